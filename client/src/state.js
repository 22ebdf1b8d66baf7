// What a game reads: tables turned into named, dequantised fields. Fixed fields are numbers in
// units, angles radians, ints integers, bools booleans, enums their variant's name, strings
// strings. Entity objects live across snapshots (a game may keep references); the store diffs
// each new table against the last one and calls onAdd / onRemove / onChange listeners.
import { KIND_STR, TAU } from './protocol.js';

/** A stored cell (and, for strings, its text) as the game sees it. */
export function friendly(coding, cell, text = '') {
  switch (coding.type) {
    case 'Fixed': return cell / coding.scale;
    case 'Angle': return (cell / 2 ** coding.bits) * TAU;
    case 'Bool': return cell !== 0;
    case 'Enum': return coding.variants[cell] ?? cell;
    case 'Str': return text;
    default: return cell;
  }
}

/** Decoded values (`decodeValues`) of `fields` as an object by field name. */
export function valuesByName(fields, values) {
  const out = {};
  fields.forEach((f, i) => {
    const v = values[i];
    if (f.coding.type === 'Bool') out[f.name] = v !== 0;
    else if (f.coding.type === 'Enum') out[f.name] = f.coding.variants[v] ?? v;
    else out[f.name] = v;
  });
  return out;
}

/** An object by field name (or an array in field order) as a value list for `encodeValues`. */
export function valuesInOrder(fields, values) {
  if (Array.isArray(values)) return values;
  return fields.map((f) => (values ? values[f.name] : undefined));
}

/** `{index, version}` as a Map key. */
export const keyOf = (id) => `${id.index}:${id.version}`;

/** One entity (or the room state) as the game sees it, kept up to date by the store. */
export class Entity {
  constructor(id, tp) {
    this.id = { index: id.index, version: id.version };
    this.key = keyOf(id);
    this.type = tp.name;
    this.typeId = tp.id;
    /** Its fields by name (private ones only on the client's own entity). */
    this.fields = {};
    this.listeners = null; // field name (or '*') -> Set of callbacks
  }

  /** A field's value (see `friendly`). */
  get(name) {
    return this.fields[name];
  }

  /**
   * Calls cb(value, previous, entity) whenever field `name` changes ('*': any field, then
   * cb(name, value, previous, entity)). Returns a function that removes the listener.
   */
  onChange(name, cb) {
    if (!this.listeners) this.listeners = new Map();
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(cb);
    return () => this.listeners.get(name).delete(cb);
  }

  changed(name, value, previous) {
    if (!this.listeners) return;
    for (const cb of this.listeners.get(name) ?? []) guard(() => cb(value, previous, this));
    for (const cb of this.listeners.get('*') ?? []) guard(() => cb(name, value, previous, this));
  }
}

/** Runs a game callback; its exception is reported, not allowed to break the client. */
export function guard(fn) {
  try {
    fn();
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}

/** The fields a client sees of an entity of plan type `tp`: all for its own, else public. */
export function visibleFields(tp, mine) {
  return mine ? tp.fields : tp.publicFields;
}

/**
 * Entities by key and the room state, from successive tables. `update` fires the listeners:
 * removals, then additions, then field changes.
 */
export class EntityStore {
  constructor() {
    this.entities = new Map(); // key -> Entity (the room state is not one of them)
    this.room = null; // the room state's Entity
    this.bySlot = []; // slot -> Entity
    this.table = null;
    this.addListeners = new Set();
    this.removeListeners = new Set();
  }

  /** Makes the entities match `table` (null: none); `own`: the client's player id. */
  update(plan, own, table) {
    const prev = this.table;
    const removed = [];
    const added = [];
    const changes = [];
    const slots = Math.max(prev ? prev.slots : 0, table ? table.slots : 0);
    for (let i = 0; i < slots; i++) {
      const old = this.bySlot[i];
      const present = table && table.has(i);
      const same = old && present && old.id.version === table.version[i] && old.typeId === table.type[i];
      if (old && !same) {
        removed.push(old);
        this.bySlot[i] = undefined;
      }
      if (!present) continue;
      const tp = plan.types[table.type[i]];
      if (!tp) continue;
      const mine = own !== null && own.index === i && own.version === table.version[i];
      const fields = visibleFields(tp, mine);
      const at = i * table.stride;
      if (!same) {
        const e = new Entity({ index: i, version: table.version[i] }, tp);
        for (const fp of fields) {
          e.fields[fp.name] = friendly(fp.coding, table.values[at + fp.id], fp.kind === KIND_STR ? table.string(i, fp.id) : '');
        }
        this.bySlot[i] = e;
        added.push(e);
        continue;
      }
      // The same entity: compare cells (and texts) with the previous table.
      const pat = i * prev.stride;
      for (const fp of fields) {
        const cell = table.values[at + fp.id];
        const str = fp.kind === KIND_STR;
        if (cell === prev.values[pat + fp.id] && (!str || table.string(i, fp.id) === prev.string(i, fp.id))) continue;
        const value = friendly(fp.coding, cell, str ? table.string(i, fp.id) : '');
        const previous = old.fields[fp.name];
        old.fields[fp.name] = value;
        if (old.listeners) changes.push([old, fp.name, value, previous]);
      }
    }
    this.bySlot.length = table ? table.slots : 0;
    this.table = table;
    const isRoom = (e) => plan.roomType !== null && e.typeId === plan.roomType && e.id.index === 0;
    for (const e of removed) {
      if (isRoom(e)) this.room = null;
      else this.entities.delete(e.key);
      for (const cb of this.removeListeners) guard(() => cb(e));
    }
    for (const e of added) {
      if (isRoom(e)) this.room = e;
      else this.entities.set(e.key, e);
      for (const cb of this.addListeners) guard(() => cb(e));
    }
    for (const [e, name, value, previous] of changes) e.changed(name, value, previous);
  }

  /** Forgets every entity (firing onRemove), e.g. when the game changes. */
  clear(plan) {
    this.update(plan, null, null);
  }
}
