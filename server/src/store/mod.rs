//! The embedded SQLite database (WAL) holding the engine's state. Records are stored as JSON
//! documents keyed by id; every write is a transaction committed before the caller answers.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{de::DeserializeOwned, Serialize};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (session_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    parent_session_id TEXT NOT NULL,
    report_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (parent_session_id, report_id)
);
CREATE TABLE IF NOT EXISTS rejected (seq INTEGER PRIMARY KEY AUTOINCREMENT, parent_session_id TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS terminals (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, data TEXT NOT NULL);
";

pub struct Store {
    conn: Connection,
}

/// Write access inside one transaction.
pub struct Writer<'a> {
    tx: Transaction<'a>,
}

fn to_json(value: &impl Serialize) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode survives process crashes (SIGKILL); only power loss could drop the
        // newest commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => anyhow::bail!(
                "database {} has schema version {v}, this build understands {SCHEMA_VERSION}",
                path.display()
            ),
        }
        Ok(Store { conn })
    }

    /// Runs `f` in a transaction and commits it.
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer) -> Result<T>) -> Result<T> {
        slow_disk_for_tests();
        let writer = Writer {
            tx: self.conn.transaction()?,
        };
        let value = f(&writer)?;
        writer.tx.commit()?;
        Ok(value)
    }

    fn load_table<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<(String, T)>> {
        let mut statement = self.conn.prepare(sql)?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, data) = row?;
            match serde_json::from_str(&data) {
                Ok(value) => out.push((key, value)),
                Err(err) => tracing::error!(%err, key, "skipping unreadable database record"),
            }
        }
        Ok(out)
    }

    fn load_ordered<T: DeserializeOwned>(&self, table: Ordered) -> Result<Vec<T>> {
        let sql = format!("SELECT id, data FROM {} ORDER BY seq", table.table());
        Ok(self.load_table(&sql)?.into_iter().map(|(_, v)| v).collect())
    }

    pub fn sessions<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.load_ordered(Ordered::Sessions)
    }

    pub fn plans<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        Ok(self
            .load_table("SELECT session_id, data FROM plans")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Results oldest first.
    pub fn results<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        Ok(self
            .load_table("SELECT report_id, data FROM results ORDER BY seq")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Rejected mailbox files as (parent session id, record), oldest first.
    pub fn rejected<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>> {
        self.load_table("SELECT parent_session_id, data FROM rejected ORDER BY seq")
    }

    /// The queue as (sequence number, item), oldest first.
    pub fn queue<T: DeserializeOwned>(&self) -> Result<Vec<(i64, T)>> {
        Ok(self
            .load_table("SELECT CAST(seq AS TEXT), data FROM queue ORDER BY seq")?
            .into_iter()
            .map(|(seq, v)| (seq.parse().unwrap_or_default(), v))
            .collect())
    }

    pub fn terminals<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.load_ordered(Ordered::Terminals)
    }
}

/// Tables of records kept in creation order (`id`, `seq`, `data`).
#[derive(Clone, Copy)]
enum Ordered {
    Sessions,
    Terminals,
}

impl Ordered {
    fn table(self) -> &'static str {
        match self {
            Ordered::Sessions => "sessions",
            Ordered::Terminals => "terminals",
        }
    }
}

impl Writer<'_> {
    /// Inserts a record, or replaces its data and keeps its position.
    fn upsert_ordered(
        &self,
        table: Ordered,
        id: &str,
        seq: i64,
        record: &impl Serialize,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (id, seq, data) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET data = excluded.data",
            table.table()
        );
        self.tx.execute(&sql, params![id, seq, to_json(record)?])?;
        Ok(())
    }

    pub fn session(&self, id: &str, seq: i64, record: &impl Serialize) -> Result<()> {
        self.upsert_ordered(Ordered::Sessions, id, seq, record)
    }

    pub fn plan(&self, session_id: &str, plan: &impl Serialize) -> Result<()> {
        self.tx.execute(
            "INSERT INTO plans (session_id, data) VALUES (?1, ?2)
             ON CONFLICT(session_id) DO UPDATE SET data = excluded.data",
            params![session_id, to_json(plan)?],
        )?;
        Ok(())
    }

    /// Inserts or updates a result; an update keeps the original position.
    pub fn result(&self, parent: &str, report_id: &str, result: &impl Serialize) -> Result<()> {
        self.tx.execute(
            "INSERT INTO results (parent_session_id, report_id, seq, data)
             VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM results), ?3)
             ON CONFLICT(parent_session_id, report_id) DO UPDATE SET data = excluded.data",
            params![parent, report_id, to_json(result)?],
        )?;
        Ok(())
    }

    pub fn rejected(&self, parent: &str, record: &impl Serialize) -> Result<()> {
        self.tx.execute(
            "INSERT INTO rejected (parent_session_id, data) VALUES (?1, ?2)",
            params![parent, to_json(record)?],
        )?;
        Ok(())
    }

    pub fn queue_push(&self, item: &impl Serialize) -> Result<i64> {
        self.tx
            .execute("INSERT INTO queue (data) VALUES (?1)", [to_json(item)?])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn queue_remove(&self, seq: i64) -> Result<()> {
        self.tx.execute("DELETE FROM queue WHERE seq = ?1", [seq])?;
        Ok(())
    }

    pub fn terminal(&self, id: &str, seq: i64, record: &impl Serialize) -> Result<()> {
        self.upsert_ordered(Ordered::Terminals, id, seq, record)
    }
}

/// Debug builds only: `CODEX_GOVERNANCE_TEST_STORE_DELAY_MS` makes every commit that slow, so
/// tests can show a slow disk stalls no connection (`tests/responsiveness.rs`).
fn slow_disk_for_tests() {
    #[cfg(debug_assertions)]
    {
        static DELAY: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
        let delay = DELAY.get_or_init(|| {
            std::env::var("CODEX_GOVERNANCE_TEST_STORE_DELAY_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(std::time::Duration::from_millis)
        });
        if let Some(delay) = delay {
            std::thread::sleep(*delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let mut store = Store::open(&path).unwrap();
            store
                .write(|w| {
                    w.session("z-1", 1, &json!({"id": "z-1"}))?;
                    w.session("z-1", 1, &json!({"id": "z-1", "status": "exited"}))?;
                    w.plan("z-1", &json!({"summary": "s"}))?;
                    w.result("z-1", "r-1", &json!({"n": 1}))?;
                    w.result("z-1", "r-2", &json!({"n": 2}))?;
                    w.result("z-1", "r-1", &json!({"n": 3}))?;
                    let seq = w.queue_push(&json!({"department": "a"}))?;
                    w.queue_push(&json!({"department": "b"}))?;
                    w.queue_remove(seq)?;
                    w.terminal("t-2", 2, &json!({"id": "t-2"}))?;
                    w.terminal("t-1", 1, &json!({"id": "t-1", "status": "exited"}))?;
                    w.rejected("z-1", &json!({"file": "x.json"}))
                })
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.sessions::<Value>().unwrap(),
            vec![json!({"id": "z-1", "status": "exited"})]
        );
        assert_eq!(store.plans::<Value>().unwrap().len(), 1);
        assert_eq!(
            store.results::<Value>().unwrap(),
            vec![json!({"n": 3}), json!({"n": 2})]
        );
        let queue = store.queue::<Value>().unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].1, json!({"department": "b"}));
        assert_eq!(store.rejected::<Value>().unwrap()[0].0, "z-1");
        assert_eq!(
            store.terminals::<Value>().unwrap(),
            vec![
                json!({"id": "t-1", "status": "exited"}),
                json!({"id": "t-2"})
            ],
            "terminals come back in creation order"
        );
    }

    #[test]
    fn a_failed_write_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let result: Result<()> = store.write(|w| {
            w.plan("z", &json!({}))?;
            anyhow::bail!("boom")
        });
        assert!(result.is_err());
        assert!(store.plans::<Value>().unwrap().is_empty());
    }
}
