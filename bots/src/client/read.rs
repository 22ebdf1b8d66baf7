//! Reading a game's state by the names its descriptor gives: entity fields as game values
//! (dequantised), by field name, or as a typed struct (`protocol::declare::Fields`).
//!
//! A client only receives its own entity's owner-only fields; other entities' read as the
//! field's stored default (0, dequantised).

use protocol::declare::Fields;
use protocol::schema::{self, ROOM_INDEX, ROOM_VERSION};
use protocol::{Descriptor, EntityId, FieldDesc, StateTable, TypeDesc, Value};

/// The room state's entity id (slot 0), for games that declare a room type.
pub const ROOM: EntityId = EntityId {
    index: ROOM_INDEX,
    version: ROOM_VERSION,
};

/// The entity type called `name`.
pub fn find_type<'a>(schema: &'a Descriptor, name: &str) -> Option<&'a TypeDesc> {
    schema.types.iter().find(|t| t.name == name)
}

/// The field called `name` in `fields`.
pub fn find_field<'a>(fields: &'a [FieldDesc], name: &str) -> Option<&'a FieldDesc> {
    fields.iter().find(|f| f.name == name)
}

pub use protocol::interp::{cell_value, entity_values};

/// The field called `name` (`"pos.x"`) of entity `id`.
pub fn field_value(
    schema: &Descriptor,
    table: &StateTable,
    id: EntityId,
    name: &str,
) -> Option<Value> {
    let e = table.get(id)?;
    let f = find_field(&schema.types.get(usize::from(e.ty))?.fields, name)?;
    Some(cell_value(f, table, e.id.index, e.values))
}

/// Entity `id` read as `T` (values in field-id order: a `T` that knows fewer fields than the
/// server's schema reads the ones it knows, since field ids only grow).
pub fn entity_as<T: Fields>(schema: &Descriptor, table: &StateTable, id: EntityId) -> Option<T> {
    entity_values(schema, table, id).map(|v| T::read(&v))
}

/// The value a field takes when nothing else is known: 0 of its coding (clamped into range
/// when quantised), the first enum variant, the empty string.
pub fn default_value(f: &FieldDesc) -> Value {
    match f.coding {
        protocol::Coding::Fixed { .. } | protocol::Coding::Angle { .. } => Value::Num(0.0),
        protocol::Coding::Str { .. } => Value::Str(String::new()),
        _ => Value::Int(0),
    }
}

/// Appends `values` coded for `fields` (`schema::encode_values`, which sends missing trailing
/// values, from a sender that knows fewer fields, as their field's zero clamped into range,
/// and drops extra ones).
pub fn encode_values(fields: &[FieldDesc], values: &[Value], out: &mut Vec<u8>) {
    schema::encode_values(fields, values, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::declare::{Writer, read};
    use protocol::schema::{Coding, number};

    fn fields() -> Vec<FieldDesc> {
        number(vec![
            FieldDesc::new(
                "x",
                Coding::Fixed {
                    scale: 10,
                    min: -100,
                    max: 100,
                    tolerance: 0,
                },
            ),
            FieldDesc::new("name", Coding::Str { max_bytes: 8 }),
            FieldDesc::new("hp", Coding::Int { min: 5, max: 9 }),
        ])
    }

    fn schema() -> Descriptor {
        Descriptor {
            game: "g".into(),
            types: vec![TypeDesc {
                id: 0,
                name: "t".into(),
                fields: fields(),
            }],
            room_type: None,
            input: fields(),
            actions: vec![],
            events: vec![],
            params: vec![],
        }
    }

    /// Knows the first field only.
    #[derive(Debug, PartialEq)]
    struct Old {
        x: f64,
    }

    impl Fields for Old {
        fn fields() -> Vec<FieldDesc> {
            fields()[..1].to_vec()
        }
        fn write(&self, out: &mut Writer) {
            out.num(self.x);
        }
        fn read(values: &[Value]) -> Self {
            Old {
                x: read::num(values, 0),
            }
        }
    }

    #[test]
    fn reads_fields_by_id_and_name() {
        let s = schema();
        let mut t = StateTable::new(3);
        let id = EntityId {
            index: 4,
            version: 3,
        };
        t.insert(id, 0).unwrap().copy_from_slice(&[-15, 0, 7]);
        t.set_string(4, 1, "ann").unwrap();
        let want = vec![Value::Num(-1.5), Value::Str("ann".into()), Value::Int(7)];
        assert_eq!(entity_values(&s, &t, id), Some(want));
        assert_eq!(field_value(&s, &t, id, "hp"), Some(Value::Int(7)));
        assert_eq!(field_value(&s, &t, id, "nope"), None);
        assert_eq!(entity_as::<Old>(&s, &t, id), Some(Old { x: -1.5 }));
        let gone = EntityId {
            index: 4,
            version: 5,
        };
        assert_eq!(entity_values(&s, &t, gone), None);
    }

    #[test]
    fn short_value_lists_are_padded_with_defaults() {
        let f = fields();
        let mut short = Vec::new();
        encode_values(&f, &[Value::Num(2.0)], &mut short);
        // hp's default 0 clamps into 5..=9.
        assert_eq!(
            schema::decode_values(&f, &short).unwrap(),
            vec![Value::Num(2.0), Value::Str(String::new()), Value::Int(5)]
        );
        let mut long = Vec::new();
        let extra = [
            Value::Num(1.0),
            Value::Str("b".into()),
            Value::Int(6),
            Value::Int(99),
        ];
        encode_values(&f, &extra, &mut long);
        assert_eq!(
            schema::decode_values(&f, &long).unwrap(),
            extra[..3].to_vec()
        );
    }
}
