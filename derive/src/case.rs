//! Rust names to wire names.

/// `TankShell` -> `tank_shell`, `HTTPServer` -> `http_server`, `Player2` -> `player2`; a
/// `r#` prefix is dropped. Wire names are snake_case whatever the Rust naming.
pub fn snake(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // A word starts after a lower-case letter or digit, or at the last capital of an
            // acronym that a lower-case word follows.
            let boundary = prev.is_some_and(|p| {
                p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next_lower)
            });
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn snake_case() {
        for (from, to) in [
            ("Tank", "tank"),
            ("TankShell", "tank_shell"),
            ("HTTPServer", "http_server"),
            ("Player2Spawn", "player2_spawn"),
            ("already_snake", "already_snake"),
            ("r#Type", "type"),
            ("A", "a"),
            ("ChatMessage_V2", "chat_message_v2"),
        ] {
            assert_eq!(snake(from), to, "{from}");
        }
    }
}
