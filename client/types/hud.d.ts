// Types of `ticksync-client/hud` (src/hud.js): the heads-up display over the canvas (DOM).

/** A HUD row: name and value (shown with `String(value)`, escaped). */
export type HudRow = readonly [name: string, value: string | number];

export class Hud {
  /** `root`: the element for the rows; `feed`: the element for the event feed. */
  constructor(root: HTMLElement, feed: HTMLElement);
  root: HTMLElement;
  feed: HTMLElement;
  /** Lines the feed keeps (6). */
  feedLines: number;
  /** Replaces the rows; `state` (the connection state) styles the HUD (`data-state`). */
  update(rows: ReadonlyArray<HudRow>, state: string): void;
  /** Adds a line to the event feed; the last few stay. `cls` styles it (e.g. 'kill'). */
  event(text: string, cls?: string): void;
}

/** A duration for the HUD: one decimal below 10 ms, '–' when unknown. */
export function formatMs(ms: number | null | undefined): string;
