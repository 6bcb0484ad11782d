//! A client session's settings: the database from the startup packet, `search_path`, and the
//! variables drivers `SET` and `SHOW`.

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Session {
    pub user: String,
    pub database: String,
    vars: BTreeMap<String, String>,
}

/// Settings reported at startup and readable with SHOW, with Postgres-compatible defaults.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("server_version", "15.0.0"),
    ("server_version_num", "150000"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("application_name", ""),
    ("extra_float_digits", "1"),
    ("search_path", "public"),
    ("transaction_isolation", "serializable"),
    ("default_transaction_isolation", "serializable"),
    ("is_superuser", "off"),
    ("max_identifier_length", "63"),
    // Asked for by clients' catalog queries (SQLAlchemy's reflection, pgJDBC).
    ("default_table_access_method", "heap"),
    ("max_index_keys", "32"),
];

/// The settings a server reports in ParameterStatus at startup, as Postgres does.
pub const REPORTED: &[&str] = &[
    "server_version",
    "server_encoding",
    "client_encoding",
    "datestyle",
    "timezone",
    "intervalstyle",
    "integer_datetimes",
    "standard_conforming_strings",
    "application_name",
    "is_superuser",
    "session_authorization",
];

impl Session {
    pub fn new(user: &str, database: &str) -> Self {
        let mut vars: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Who the session is: `current_user`, `session_user` and `SHOW session_authorization`.
        vars.insert("session_authorization".into(), user.to_string());
        Session {
            user: user.to_string(),
            database: database.to_string(),
            vars,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(&canonical(name)).map(String::as_str)
    }

    /// Sets a variable (`None` restores the default). Returns the canonical name.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<String, String> {
        let name = canonical(name);
        if matches!(
            name.as_str(),
            "server_version"
                | "server_version_num"
                | "server_encoding"
                | "integer_datetimes"
                | "session_authorization"
        ) {
            return Err(format!("parameter \"{name}\" cannot be changed"));
        }
        let value = match value {
            Some(v) => v.to_string(),
            None => DEFAULTS
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default(),
        };
        self.vars.insert(name.clone(), value);
        Ok(name)
    }

    pub fn search_path(&self) -> Vec<String> {
        self.get("search_path")
            .unwrap_or("public")
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty() && s != "\"$user\"" && s != "$user")
            .collect()
    }

    pub fn vars(&self) -> impl Iterator<Item = (&String, &String)> {
        self.vars.iter()
    }
}

fn canonical(name: &str) -> String {
    match name.to_lowercase().as_str() {
        "time zone" | "time_zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        n => n.to_string(),
    }
}
