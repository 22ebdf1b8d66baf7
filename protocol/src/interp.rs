//! Reading entities out of state tables as game values: as one table holds them, and between
//! two tables as a client draws them (interpolation, by each field's `interp`). The server
//! rewinds hit tests to what a player drew with the same arithmetic a bot aims with, so both
//! agree on where a moving entity was shown.

use std::f64::consts::TAU;

use crate::schema::{self, Coding, Descriptor, FieldDesc, Interp, Value};
use crate::state::{EntityId, EntityRef, StateTable, angle_diff};

/// One field of the entity in slot `index` whose cells are `values`, as a game value.
pub fn cell_value(f: &FieldDesc, table: &StateTable, index: u32, values: &[i32]) -> Value {
    if f.coding.is_str() {
        Value::Str(table.string(index, f.id).to_owned())
    } else {
        schema::dequantize(&f.coding, cell(values, f))
    }
}

fn cell(values: &[i32], f: &FieldDesc) -> i32 {
    values.get(usize::from(f.id)).copied().unwrap_or(0)
}

/// Every field of entity `id` in field-id order, or `None` when the table does not hold it (or
/// its type is not in the descriptor).
pub fn entity_values(desc: &Descriptor, table: &StateTable, id: EntityId) -> Option<Vec<Value>> {
    let e = table.get(id)?;
    let ty = desc.types.get(usize::from(e.ty))?;
    Some(
        ty.fields
            .iter()
            .map(|f| cell_value(f, table, e.id.index, e.values))
            .collect(),
    )
}

/// Entity `id` as a client draws it `frac` (0 to 1) of the way from table `a` to the later
/// table `b`: its type id and every field in field-id order. `Linear` fields blend straight,
/// `Angle` ones the shorter way round (wrapped into one turn), the others show `a`'s value (a
/// client shows the older snapshot's value until the newer one's time). `None` when `a` does
/// not hold it (a client draws nothing of an entity before its time); an entity gone by `b`,
/// or of another type there, shows as in `a`.
pub fn entity_between(
    desc: &Descriptor,
    a: &StateTable,
    b: &StateTable,
    frac: f64,
    id: EntityId,
) -> Option<(u16, Vec<Value>)> {
    let ea = a.get(id)?;
    let ty = desc.types.get(usize::from(ea.ty))?;
    let eb = b.get(id).filter(|e| e.ty == ea.ty);
    let frac = frac.clamp(0.0, 1.0);
    let values = ty
        .fields
        .iter()
        .map(|f| match eb {
            Some(eb) if f.interp != Interp::None && !f.coding.is_str() => blend(f, &ea, &eb, frac),
            _ => cell_value(f, a, ea.id.index, ea.values),
        })
        .collect();
    Some((ea.ty, values))
}

fn blend(f: &FieldDesc, a: &EntityRef<'_>, b: &EntityRef<'_>, frac: f64) -> Value {
    let (qa, qb) = (f64::from(cell(a.values, f)), f64::from(cell(b.values, f)));
    match f.coding {
        Coding::Angle { bits } => {
            let n = (1u64 << bits) as f64;
            let d = angle_diff(
                i64::from(cell(b.values, f)),
                i64::from(cell(a.values, f)),
                bits,
            );
            let q = (qa + d as f64 * frac).rem_euclid(n);
            Value::Num(q / n * TAU)
        }
        Coding::Fixed { scale, .. } => Value::Num((qa + (qb - qa) * frac) / f64::from(scale)),
        // Integers stay integers: the nearer step.
        _ => Value::Int((qa + (qb - qa) * frac).round() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{TypeDesc, number};
    use crate::state::Plan;

    fn desc() -> Descriptor {
        let mut x = FieldDesc::new(
            "x",
            Coding::Fixed {
                scale: 4,
                min: -100,
                max: 100,
                tolerance: 0,
            },
        );
        x.interp = Interp::Linear;
        let mut turn = FieldDesc::new("turn", Coding::Angle { bits: 8 });
        turn.interp = Interp::Angle;
        let hp = FieldDesc::new("hp", Coding::Int { min: 0, max: 100 });
        Descriptor {
            game: "t".into(),
            types: vec![TypeDesc {
                id: 0,
                name: "dot".into(),
                fields: number(vec![x, turn, hp]),
            }],
            room_type: None,
            input: vec![],
            actions: vec![],
            events: vec![],
            params: vec![],
        }
    }

    fn table(d: &Descriptor, id: EntityId, cells: [i32; 3]) -> StateTable {
        let mut t = Plan::new(d).new_table();
        t.insert(id, 0).unwrap().copy_from_slice(&cells);
        t
    }

    #[test]
    fn blends_linear_and_angle_fields_and_holds_the_rest() {
        let d = desc();
        let id = EntityId {
            index: 1,
            version: 1,
        };
        // x 1.0 -> 3.0; turn 250 -> 6 (the short way: through 0); hp 90 -> 50 (not blended).
        let a = table(&d, id, [4, 250, 90]);
        let b = table(&d, id, [12, 6, 50]);
        let (ty, v) = entity_between(&d, &a, &b, 0.25, id).unwrap();
        assert_eq!(ty, 0);
        assert_eq!(v[0], Value::Num(1.5));
        // 250 + 12 * 0.25 = 253 of 256 steps.
        assert_eq!(v[1], Value::Num(253.0 / 256.0 * TAU));
        assert_eq!(v[2], Value::Int(90));
        let (_, v) = entity_between(&d, &a, &b, 0.75, id).unwrap();
        // 250 + 9 = 259 wraps to 3.
        assert_eq!(v[1], Value::Num(3.0 / 256.0 * TAU));
        assert_eq!(
            entity_between(&d, &a, &b, 0.0, id).unwrap().1,
            entity_values(&d, &a, id).unwrap()
        );
    }

    #[test]
    fn an_entity_is_drawn_from_the_older_table() {
        let d = desc();
        let id = EntityId {
            index: 1,
            version: 1,
        };
        let empty = Plan::new(&d).new_table();
        let a = table(&d, id, [4, 0, 1]);
        // Not yet in the older table: not drawn. Gone from the newer: as it was.
        assert_eq!(entity_between(&d, &empty, &a, 0.9, id), None);
        assert_eq!(
            entity_between(&d, &a, &empty, 0.9, id).unwrap().1,
            entity_values(&d, &a, id).unwrap()
        );
    }
}
