//! A client of a Confluent schema registry (its documented REST API): the latest schema of a
//! subject when a source is created, and writers' schemas by the id each record is framed with.

use std::time::Duration;

/// Registries answer in a few milliseconds; a stuck one must not hold a source for long.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Registry {
    url: String,
    agent: ureq::Agent,
}

impl Registry {
    pub fn new(url: &str) -> Registry {
        Registry {
            url: url.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new().timeout(TIMEOUT).build(),
        }
    }

    /// The subject's latest schema: its id and text (`GET /subjects/{subject}/versions/latest`).
    pub fn latest(&self, subject: &str) -> Result<(u32, String), String> {
        let body = self.get(&format!("/subjects/{subject}/versions/latest"))?;
        let id = body.get("id").and_then(|i| i.as_u64()).unwrap_or(0) as u32;
        Ok((id, avro_text(&body)?))
    }

    /// A schema by id (`GET /schemas/ids/{id}`).
    pub fn schema(&self, id: u32) -> Result<String, String> {
        avro_text(&self.get(&format!("/schemas/ids/{id}"))?)
    }

    fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.url);
        let response = self
            .agent
            .get(&url)
            .set("Accept", "application/vnd.schemaregistry.v1+json")
            .call()
            .map_err(|e| match e {
                ureq::Error::Status(code, r) => {
                    let message = r
                        .into_json::<serde_json::Value>()
                        .ok()
                        .and_then(|b| b.get("message")?.as_str().map(String::from))
                        .unwrap_or_default();
                    format!("the schema registry answered {code} to GET {url}: {message}")
                }
                other => format!("cannot reach the schema registry at {}: {other}", self.url),
            })?;
        response
            .into_json()
            .map_err(|e| format!("the schema registry's answer to GET {url} is not JSON: {e}"))
    }
}

/// The schema text of a registry answer, which must be Avro (`schemaType` absent or AVRO).
fn avro_text(body: &serde_json::Value) -> Result<String, String> {
    match body.get("schemaType").and_then(|t| t.as_str()) {
        None | Some("AVRO") => {}
        Some(other) => return Err(format!("the registry's schema is {other}, not Avro")),
    }
    body.get("schema")
        .and_then(|s| s.as_str())
        .map(String::from)
        .ok_or_else(|| "the schema registry's answer has no schema".into())
}
