// The generic page (`/?game=NAME&page=generic`, or any game without a page of its own): plays
// any game from its descriptor alone, with no code of the game's.
//
// - Every entity with a position (a pair of Fixed fields `P.x` / `P.y`, `pos` preferred) is
//   drawn there, interpolated (`room.sample`), shaped and coloured by its type, with a legend;
//   the own entity is ringed. The world is the game's `world_width` x `world_height` params, or
//   else the position fields' declared ranges.
// - Hover or click an entity: its fields (name, value) in the side panel.
// - The side panel also has the room state's fields, the event feed (the room's and the game's
//   events with their fields) and the bandwidth: bytes/s per entity type and the top fields,
//   measured on the snapshots decoded (the decoder's accounting hook, `room.deltaAccount`).
// - Input: WASD / arrows (or a drag) drive `move_x` / `move_y` if the game's input has them;
//   every other input field keeps its default.
// - `window.ticksync` as on the game pages, plus `window.ticksync.generic` (what was drawn, the
//   types, the bandwidth) for tests.
import { Page, pageGame } from './page.js';
import { Controls } from './input.js';
import { View } from './view.js';

const PALETTE = ['#5fa8d3', '#f2a541', '#e5534b', '#b083f0', '#57ab5a', '#f778ba', '#39c5cf', '#c69026', '#adbac7'];
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'hexagon', 'cross'];
const OWN = '#7ee081';
const SELECTED = '#ffffff';
/** Pointer distance (CSS px) within which an entity is under it. */
const HIT_PX = 12;
/** The most field rows the bandwidth table lists. */
const TOP_FIELDS = 10;
/** What the bandwidth calls the bytes of the delta's list counts (no entity's). */
const LISTS = '(list counts)';
/** ... and an entity's own bytes (index gap, version, type, field mask): no field's. */
const OVERHEAD = '(ids, mask)';

/**
 * The position fields of entity type `tp` (a Plan type): `{x, y, xf, yf}` (names and field
 * plans) of a pair of Fixed fields `P.x` / `P.y`, `pos.x` / `pos.y` first, then bare `x` / `y`,
 * then the first pair in field order; null when it has none.
 */
export function positionOf(tp) {
  const fixed = new Map(tp.fields.filter((f) => f.coding.type === 'Fixed').map((f) => [f.name, f]));
  const pair = (x, y) => (fixed.has(x) && fixed.has(y) ? { x, y, xf: fixed.get(x), yf: fixed.get(y) } : null);
  const preferred = pair('pos.x', 'pos.y') ?? pair('x', 'y');
  if (preferred) return preferred;
  for (const name of fixed.keys()) {
    if (!name.endsWith('.x')) continue;
    const p = pair(name, `${name.slice(0, -2)}.y`);
    if (p) return p;
  }
  return null;
}

/**
 * The world to fit in the view: `{x0, y0, width, height}` from the params `world_width` /
 * `world_height` (from 0), or else per axis the span of the position fields' declared ranges.
 */
export function worldOf(params, positions) {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of positions) {
    if (!p) continue;
    x0 = Math.min(x0, p.xf.coding.min / p.xf.coding.scale);
    x1 = Math.max(x1, p.xf.coding.max / p.xf.coding.scale);
    y0 = Math.min(y0, p.yf.coding.min / p.yf.coding.scale);
    y1 = Math.max(y1, p.yf.coding.max / p.yf.coding.scale);
  }
  const axis = (param, lo, hi) => {
    if (typeof param === 'number' && param > 0) return [0, param];
    if (Number.isFinite(lo) && hi > lo) return [lo, hi - lo];
    return [0, 1000];
  };
  const [wx, width] = axis(params.world_width, x0, x1);
  const [wy, height] = axis(params.world_height, y0, y1);
  return { x0: wx, y0: wy, width, height };
}

/** Bytes per second by entity type and field, from the decoder's accounting hook. */
export class BandwidthMeter {
  constructor(now = () => performance.now(), periodMs = 1000) {
    this.now = now;
    this.periodMs = periodMs;
    this.counts = new Map(); // (type + 1) * 128 + (field + 1) -> bytes this period
    this.snapshots = 0;
    this.since = now();
    this.rates = { bytesPerSec: 0, snapshotsPerSec: 0, byType: {}, byField: [] };
    /** The hook for `room.deltaAccount`. */
    this.account = (type, field, bytes) => {
      const k = (type + 1) * 128 + (field + 1);
      this.counts.set(k, (this.counts.get(k) ?? 0) + bytes);
    };
  }

  snapshot() {
    this.snapshots++;
  }

  /** Starts a new period now, forgetting the counts (a new connection: the wait for it is no
   * part of any rate). */
  restart() {
    this.counts.clear();
    this.snapshots = 0;
    this.since = this.now();
  }

  /** Closes the period if it is over: rates from its counts, named with `plan`. */
  roll(plan) {
    const now = this.now();
    const secs = (now - this.since) / 1000;
    if (secs * 1000 < this.periodMs || !plan) return false;
    const byType = {};
    const byField = [];
    let total = 0;
    for (const [k, bytes] of this.counts) {
      const type = Math.floor(k / 128) - 1;
      const field = (k % 128) - 1;
      const tp = type >= 0 ? plan.types[type] : null;
      const typeName = tp ? tp.name : LISTS;
      const fieldName = !tp ? '' : field >= 0 && tp.fields[field] ? tp.fields[field].name : OVERHEAD;
      const rate = bytes / secs;
      total += rate;
      byType[typeName] = (byType[typeName] ?? 0) + rate;
      byField.push({ type: typeName, field: fieldName, bytesPerSec: rate });
    }
    byField.sort((a, b) => b.bytesPerSec - a.bytesPerSec);
    this.rates = { bytesPerSec: total, snapshotsPerSec: this.snapshots / secs, byType, byField };
    this.counts.clear();
    this.snapshots = 0;
    this.since = now;
    return true;
  }
}

/** Adds shape `shape` of radius `r` at (x, y) to the current path (one fill per type). */
function shapePath(ctx, shape, x, y, r) {
  const poly = (points) => {
    ctx.moveTo(x + points[0][0] * r, y + points[0][1] * r);
    for (const [px, py] of points.slice(1)) ctx.lineTo(x + px * r, y + py * r);
    ctx.closePath();
  };
  switch (shape) {
    case 'square': ctx.rect(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7); break;
    case 'triangle': poly([[0, -1.15], [1.05, 0.75], [-1.05, 0.75]]); break;
    case 'diamond': poly([[0, -1.2], [1.2, 0], [0, 1.2], [-1.2, 0]]); break;
    case 'hexagon': poly([0, 1, 2, 3, 4, 5].map((i) => [Math.cos(i * Math.PI / 3), Math.sin(i * Math.PI / 3)])); break;
    case 'cross':
      ctx.rect(x - r, y - r * 0.35, 2 * r, r * 0.7);
      ctx.rect(x - r * 0.35, y - r, r * 0.7, 2 * r);
      break;
    default:
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, Math.PI * 2);
  }
}

/** The legend's swatch of a type: a small canvas of its shape and colour. */
function swatch(shape, color) {
  const c = document.createElement('canvas');
  c.width = 16;
  c.height = 16;
  const ctx = c.getContext('2d');
  ctx.fillStyle = color;
  ctx.beginPath();
  shapePath(ctx, shape, 8, 8, 5.5);
  ctx.fill();
  return c;
}

/** Draws entities by type at their position fields, over the client's View. */
class GenericRenderer extends View {
  constructor(canvas, size) {
    super(canvas, { size });
    this.origin = { x: 0, y: 0 };
  }

  setBounds({ x0, y0, width, height }) {
    this.origin = { x: x0, y: y0 };
    this.setWorld(width, height);
  }

  /** World point (the game's coordinates) to CSS pixels. */
  worldToScreen(x, y) {
    return this.toScreen(x - this.origin.x, y - this.origin.y);
  }

  /**
   * One frame: `view` (Room.sample's), `types` (type id -> {position, shape, color}), `marked`
   * (keys to ring: hovered, selected), `nameOf(entity)`. Returns what was drawn: {drawn,
   * byType: {name: count}, hits: [{x, y, key}], picked: Map key -> entity (the marked ones)}.
   */
  draw({ view, types, marked, nameOf, drag, banner }) {
    this.background();
    const { ctx } = this;
    const out = { drawn: 0, byType: {}, hits: [], picked: new Map() };
    if (view) {
      const groups = new Map(); // type id -> [[px, py, e]]
      for (const e of view.entities) {
        const t = types.get(e.typeId);
        if (!t || !t.position) continue;
        const x = e.fields[t.position.x];
        const y = e.fields[t.position.y];
        if (typeof x !== 'number' || typeof y !== 'number') continue;
        const p = this.worldToScreen(x, y);
        if (!groups.has(e.typeId)) groups.set(e.typeId, []);
        groups.get(e.typeId).push([p.x, p.y, e]);
        out.hits.push({ x: p.x, y: p.y, key: e.key });
        if (marked.has(e.key) || e.mine) out.picked.set(e.key, e);
      }
      const labels = [];
      for (const [ty, list] of groups) {
        const t = types.get(ty);
        const r = list.length > 300 ? 2.5 : 5.5;
        ctx.fillStyle = t.color;
        ctx.beginPath();
        for (const [px, py] of list) shapePath(ctx, t.shape, px, py, r);
        ctx.fill();
        out.byType[t.name] = list.length;
        out.drawn += list.length;
        for (const [px, py, e] of list) {
          const name = nameOf(e);
          if (e.mine || name) labels.push([px, py, r, e, name]);
          if (marked.has(e.key) || e.mine) {
            ctx.strokeStyle = e.mine ? OWN : SELECTED;
            ctx.lineWidth = 2;
            ctx.beginPath();
            ctx.arc(px, py, r + 5, 0, Math.PI * 2);
            ctx.stroke();
          }
        }
      }
      ctx.font = '12px system-ui, sans-serif';
      for (const [px, py, r, e, name] of labels) {
        this.label(e.mine ? `${name || 'you'} (you)` : name, px, py - r - 7, e.mine ? OWN : undefined);
      }
    }
    this.joystick(drag);
    this.banner(banner);
    return out;
  }
}

/** A value for a table cell: numbers to at most 3 decimals. */
function show(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, '');
  return String(v);
}

/** Fills `table` with one row per [name, value]. */
function fillTable(table, rows) {
  const body = document.createElement('tbody');
  for (const [k, v] of rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = show(v);
  }
  table.replaceChildren(body);
}

const fmtRate = (b) => (b >= 10000 ? `${(b / 1000).toFixed(1)} kB/s` : `${Math.round(b)} B/s`);

/** Joins the game of `?game=` (the server's default without one), draws it, exposes
 * `window.ticksync`. */
export function start() {
  const game = pageGame(null);
  const page = new Page({ game, defaultRoom: game ?? 'lobby' });
  const { room } = page;
  const stage = document.getElementById('stage');
  const canvas = document.getElementById('view');
  const tip = document.getElementById('tip');
  const renderer = new GenericRenderer(canvas, () => ({ width: stage.clientWidth, height: stage.clientHeight }));
  const controls = new Controls(canvas);
  const meter = new BandwidthMeter();
  page.hud.feedLines = 40;
  room.deltaAccount = meter.account;
  room.on('snapshot', () => meter.snapshot());

  // What the game declares, worked out at each Welcome (the room may play another game).
  let types = new Map(); // type id -> {id, name, position, shape, color}
  let moves = false;
  room.on('welcome', (w) => {
    meter.restart();
    const plan = room.plan;
    types = new Map();
    let n = 0;
    for (const tp of plan.types) {
      if (tp.id === plan.roomType) continue;
      types.set(tp.id, { id: tp.id, name: tp.name, position: positionOf(tp), shape: SHAPES[n % SHAPES.length], color: PALETTE[n % PALETTE.length] });
      n++;
    }
    renderer.setBounds(worldOf(plan.params, [...types.values()].map((t) => t.position)));
    const numeric = (name) => plan.input.some((f) => f.name === name && (f.coding.type === 'Fixed' || f.coding.type === 'Int'));
    moves = numeric('move_x') && numeric('move_y');
    document.title = `ticksync ${w.game} (generic)`;
    document.getElementById('title').textContent = `${w.game} · room ${w.room}`;
    const keys = moves ? 'WASD / arrows or drag to move · ' : '';
    const help = document.getElementById('help');
    help.textContent = `${keys}hover or click an entity for its fields · `;
    const own = document.createElement('a');
    own.href = `/?game=${encodeURIComponent(w.game)}`;
    own.textContent = 'the game\'s own page';
    help.append(own);
    drawLegend();
  });
  room.inputSource = () => {
    if (!moves) return {};
    const d = controls.direction();
    return { move_x: d.x, move_y: d.y };
  };
  room.onEvent('*', (fields, name) => {
    const parts = Object.entries(fields).map(([k, v]) => `${k}=${show(v)}`);
    page.hud.event(parts.length ? `${name} · ${parts.join(' ')}` : name, 'game');
  });

  // Hover and selection.
  let hits = [];
  let hoverKey = null;
  let selectedKey = null;
  let picked = new Map();
  let last = { drawn: 0, byType: {} };
  const under = (ev) => {
    const rect = canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left;
    const y = ev.clientY - rect.top;
    let best = null;
    let bestD = HIT_PX * HIT_PX;
    for (const h of hits) {
      const d = (h.x - x) ** 2 + (h.y - y) ** 2;
      if (d <= bestD) {
        best = h;
        bestD = d;
      }
    }
    return best;
  };
  canvas.addEventListener('pointermove', (ev) => {
    const h = under(ev);
    const key = h ? h.key : null;
    if (key !== hoverKey) {
      hoverKey = key;
      drawSelected();
    }
    tip.hidden = !h;
    if (h) {
      const e = picked.get(h.key);
      tip.textContent = e ? `${e.type} ${e.key}${nameOf(e) ? ` · ${nameOf(e)}` : ''}` : h.key;
      tip.style.left = `${ev.clientX - stage.getBoundingClientRect().left + 14}px`;
      tip.style.top = `${ev.clientY - stage.getBoundingClientRect().top + 10}px`;
    }
  });
  canvas.addEventListener('pointerleave', () => {
    hoverKey = null;
    tip.hidden = true;
    drawSelected();
  });
  canvas.addEventListener('click', (ev) => {
    const h = under(ev);
    selectedKey = h && h.key !== selectedKey ? h.key : null;
    drawSelected();
  });

  const nameOf = (e) => page.nameOf(e.id);

  function drawSelected() {
    const key = hoverKey ?? selectedKey;
    const box = document.getElementById('selected');
    const title = document.getElementById('selected-title');
    const e = key ? picked.get(key) : null;
    if (!e) {
      title.textContent = 'Entity';
      box.innerHTML = '<p class="hint">Hover or click an entity to see its fields.</p>';
      return;
    }
    title.textContent = `${e.type} ${e.key}${e.mine ? ' (you)' : ''}${key === selectedKey ? ' · pinned' : ''}`;
    const table = document.createElement('table');
    const rows = [['type', e.type], ['id', e.key]];
    if (nameOf(e)) rows.push(['player', nameOf(e)]);
    fillTable(table, [...rows, ...Object.entries(e.fields)]);
    box.replaceChildren(table);
  }

  function drawLegend() {
    const table = document.getElementById('legend');
    const body = document.createElement('tbody');
    const rates = meter.rates.byType;
    for (const t of types.values()) {
      const tr = body.insertRow();
      tr.insertCell().append(swatch(t.shape, t.color));
      tr.insertCell().textContent = t.position ? t.name : `${t.name} (no position)`;
      tr.insertCell().textContent = String(last.byType[t.name] ?? 0);
      tr.insertCell().textContent = fmtRate(rates[t.name] ?? 0);
    }
    table.replaceChildren(body);
  }

  function drawBandwidth() {
    const r = meter.rates;
    const box = document.getElementById('bandwidth');
    const summary = document.createElement('p');
    const perSnap = r.snapshotsPerSec > 0 ? r.bytesPerSec / r.snapshotsPerSec : 0;
    summary.textContent = `${fmtRate(r.bytesPerSec)} · ${Math.round(r.snapshotsPerSec)} snapshots/s · ${Math.round(perSnap)} B each`;
    const byType = document.createElement('table');
    fillTable(byType, Object.entries(r.byType).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, fmtRate(v)]));
    const byField = document.createElement('table');
    byField.className = 'fields';
    fillTable(byField, r.byField.slice(0, TOP_FIELDS).map((f) => [f.type === LISTS ? LISTS : `${f.type}.${f.field}`, fmtRate(f.bytesPerSec)]));
    const h = document.createElement('h3');
    h.textContent = 'Top fields';
    box.replaceChildren(summary, byType, h, byField);
  }

  // The panel: a few times a second, not per frame.
  setInterval(() => {
    if (meter.roll(room.plan)) drawBandwidth();
    fillTable(document.getElementById('room-state'), Object.entries(room.state ?? {}));
    drawLegend();
    drawSelected();
  }, 250);

  page.startHud(() => [['game', room.game ?? game ?? '–'], ['drawn', String(last.drawn)]]);
  page.run((view, now) => {
    const marked = new Set([hoverKey, selectedKey].filter(Boolean));
    const frame = renderer.draw({ view, types, marked, nameOf, drag: moves ? controls.drag : null, banner: page.banner(now) });
    hits = frame.hits;
    picked = frame.picked;
    last = frame;
  });

  page.installDebugHook({
    worldToScreen(x, y) {
      return renderer.worldToScreen(x, y);
    },
    /** What the generic page drew and measured. */
    get generic() {
      const r = meter.rates;
      return {
        drawn: last.drawn,
        drawnByType: { ...last.byType },
        types: [...types.values()].map((t) => t.name),
        legend: [...types.values()].map((t) => ({ name: t.name, shape: t.shape, color: t.color, position: t.position && [t.position.x, t.position.y] })),
        world: { ...renderer.origin, width: renderer.world.width, height: renderer.world.height },
        moves,
        selected: hoverKey ?? selectedKey,
        bandwidth: { bytesPerSec: r.bytesPerSec, snapshotsPerSec: r.snapshotsPerSec, byType: { ...r.byType }, byField: r.byField.map((f) => ({ ...f })) },
      };
    },
  });
}

// Node's test runner imports the helpers above without a page.
if (typeof document !== 'undefined') start();
