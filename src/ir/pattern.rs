//! Text matching and casing: `LIKE`, POSIX regular expressions (`~`), `initcap`.

use super::error::EvalError;

/// `s ~ pattern`: Postgres's advanced regular expressions, as far as the `regex` crate's syntax
/// agrees with them (it has no backreferences or lookaround; those patterns are errors, 2201B).
/// Patterns are compiled once per thread and kept, as queries repeat the same few.
pub(super) fn regex_match(
    s: &str,
    pattern: &str,
    case_insensitive: bool,
) -> Result<bool, EvalError> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const KEPT: usize = 64;
    thread_local! {
        static COMPILED: RefCell<HashMap<(String, bool), regex::Regex>> = RefCell::new(HashMap::new());
    }
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let key = (pattern.to_string(), case_insensitive);
        if !compiled.contains_key(&key) {
            let re = regex::RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|e| EvalError::InvalidRegex(e.to_string()))?;
            if compiled.len() >= KEPT {
                compiled.clear();
            }
            compiled.insert(key.clone(), re);
        }
        Ok(compiled[&key].is_match(s))
    })
}

/// A SQL `LIKE` match: `%` any run, `_` one character, `\` escapes the next character.
pub fn like(s: &str, pattern: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with backtracking to the last `%` (linear in practice).
    let (mut si, mut pi) = (0, 0);
    let (mut star_p, mut star_s) = (None, 0);
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star_p = Some(pi);
                    star_s = si;
                    pi += 1;
                    continue;
                }
                '_' => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == s[si] => {
                    si += 1;
                    pi += 2;
                    continue;
                }
                // An escaped character that does not match: never a literal backslash.
                '\\' if pi + 1 < p.len() => {}
                c if c == s[si] => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star_p {
            Some(sp) => {
                pi = sp + 1;
                star_s += 1;
                si = star_s;
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

pub(super) fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_patterns() {
        assert!(like("Invalid user bob", "%Invalid user%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(like("a%c", "a\\%c"));
        assert!(!like("abc", "a\\%c"));
        assert!(like("", "%"));
    }
}
