//! Counting rows in the db module's own unit tests.

use diesel::prelude::*;

use super::DbConnection;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The single number `sql` selects, named `n` (`SELECT COUNT(*) AS n …`).
pub fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).expect("a count").n
}
