//! Reading the test's database on either backend, for checks the binary does not print.
use super::TestEnv;

impl TestEnv {
    /// The rows of a query, each value as text (None for NULL): on PostgreSQL as the
    /// superuser (no row security), on SQLite from the file. Write SQL both accept.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        if let Some(db) = &self.pg {
            return db
                .client()
                .simple_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(String::from)).collect())
                    }
                    _ => None,
                })
                .collect();
        }
        use rusqlite::types::ValueRef;
        let c = self.conn();
        let mut stmt = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => None,
                            ValueRef::Integer(v) => Some(v.to_string()),
                            ValueRef::Real(v) => Some(v.to_string()),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows
    }
}
