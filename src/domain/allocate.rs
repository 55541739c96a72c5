//! Lead allocation (自动分配): which user gets each new lead of a pool, within each
//! user's max_owned and daily cap. Pure: the app gathers the seats and applies the plan.
//!
//! Fairness: both methods walk the users in a fixed order (by id) starting *after* the
//! one who got the pool's previous lead (a cursor kept between runs), so a run of 3
//! leads over 5 people does not always favour the same first three. `least_loaded`
//! gives each lead to a user with the fewest owned customers, ties going to the next in
//! that rotation (not to the longest-serving member).

/// One user allocation may deal to, with what limits them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub user_id: i64,
    /// Customers they own in this pool that count towards max_owned.
    pub owned: i64,
    /// Claims and allocations they received today (the daily cap counts both).
    pub today: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    RoundRobin,
    LeastLoaded,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "round_robin" => Some(Method::RoundRobin),
            "least_loaded" => Some(Method::LeastLoaded),
            _ => None,
        }
    }
}

/// Who gets each of `n` leads, in order (shorter than `n` when everyone is full).
/// `seats` sorted by user id; `after`: the user who got the previous lead.
pub fn plan(
    method: Method,
    seats: &[Seat],
    after: Option<i64>,
    max_owned: i64,
    daily_cap: i64,
    n: usize,
) -> Vec<i64> {
    let mut seats: Vec<Seat> = seats.to_vec();
    seats.sort_by_key(|s| s.user_id);
    let k = seats.len();
    if k == 0 {
        return Vec::new();
    }
    let room = |s: &Seat| {
        (max_owned <= 0 || s.owned < max_owned) && (daily_cap <= 0 || s.today < daily_cap)
    };
    // The rotation starts with the first user after the cursor.
    let mut next = match after {
        Some(a) => seats.iter().position(|s| s.user_id > a).unwrap_or(0),
        None => 0,
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        // Candidates in rotation order from `next`.
        let order = (0..k).map(|i| (next + i) % k);
        let pick = match method {
            Method::RoundRobin => order.clone().find(|&i| room(&seats[i])),
            Method::LeastLoaded => order
                .clone()
                .enumerate()
                .filter(|&(_, i)| room(&seats[i]))
                .min_by_key(|&(rank, i)| (seats[i].owned, rank))
                .map(|(_, i)| i),
        };
        let Some(i) = pick else {
            break;
        };
        seats[i].owned += 1;
        seats[i].today += 1;
        out.push(seats[i].user_id);
        next = (i + 1) % k;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seats(owned: &[i64]) -> Vec<Seat> {
        owned
            .iter()
            .enumerate()
            .map(|(i, &o)| Seat {
                user_id: i as i64 + 1,
                owned: o,
                today: 0,
            })
            .collect()
    }

    #[test]
    fn round_robin_continues_after_the_last_one_served() {
        let s = seats(&[0, 0, 0, 0, 0]);
        assert_eq!(plan(Method::RoundRobin, &s, None, 0, 0, 3), [1, 2, 3]);
        // The next run starts with user 4, not again with user 1.
        assert_eq!(plan(Method::RoundRobin, &s, Some(3), 0, 0, 4), [4, 5, 1, 2]);
        // A cursor on someone who left: the next id after it.
        assert_eq!(plan(Method::RoundRobin, &s, Some(9), 0, 0, 2), [1, 2]);
    }

    #[test]
    fn limits_are_respected_and_nobody_over_fills() {
        let s = seats(&[2, 0, 1]);
        // max_owned 2: user 1 is full; users 2 and 3 fill up to 2 each, then stop.
        let p = plan(Method::RoundRobin, &s, None, 2, 0, 10);
        assert_eq!(p, [2, 3, 2]);
        // Daily cap 1: one each.
        let p = plan(Method::LeastLoaded, &seats(&[0, 0, 0]), None, 0, 1, 10);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn least_loaded_evens_out_and_breaks_ties_by_rotation() {
        let s = seats(&[5, 1, 3, 1]);
        let p = plan(Method::LeastLoaded, &s, None, 0, 0, 6);
        // 2 and 4 (load 1) first, alternating; at load 3 the rotation brings in 3;
        // user 1 (load 5) waits.
        assert_eq!(p, [2, 4, 2, 4, 2, 3]);
        // Equal loads: the tie goes round, starting after the cursor.
        let p = plan(Method::LeastLoaded, &seats(&[0, 0, 0]), Some(2), 0, 0, 3);
        assert_eq!(p, [3, 1, 2]);
    }

    #[test]
    fn over_many_runs_everyone_gets_the_same_share() {
        let s = seats(&[0; 7]);
        let mut got = [0usize; 7];
        let mut cursor = None;
        for _ in 0..100 {
            let p = plan(Method::RoundRobin, &s, cursor, 0, 0, 3);
            for u in &p {
                got[*u as usize - 1] += 1;
            }
            cursor = p.last().copied();
        }
        let (min, max) = (got.iter().min().unwrap(), got.iter().max().unwrap());
        assert!(max - min <= 1, "{got:?}");
    }
}
