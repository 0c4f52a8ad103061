//! A lab order's life: `ordered → in_progress → completed → reviewed`, `cancelled` before any
//! result, and `corrected` when a result is corrected after completion (reviewed again from
//! there). Each move is bound to who may make it: the lab technician takes the specimen in and
//! completes the order, the ordering doctor reviews it, and the doctor or the hospital's admin
//! cancels it. An illegal move is a conflict that names the current state.

use haven_kernel::{DomainError, Role};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Ordered,
    InProgress,
    Completed,
    Reviewed,
    Cancelled,
    Corrected,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Ordered,
        OrderStatus::InProgress,
        OrderStatus::Completed,
        OrderStatus::Reviewed,
        OrderStatus::Cancelled,
        OrderStatus::Corrected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Ordered => "ordered",
            OrderStatus::InProgress => "in_progress",
            OrderStatus::Completed => "completed",
            OrderStatus::Reviewed => "reviewed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Corrected => "corrected",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Where this state may go, by anyone.
    pub fn next(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Ordered => &[InProgress, Cancelled],
            InProgress => &[Completed, Cancelled],
            Completed => &[Reviewed, Corrected],
            Reviewed => &[Corrected],
            Corrected => &[Reviewed, Corrected],
            Cancelled => &[],
        }
    }
}

/// `stat | urgent | routine`; a STAT order is pushed to the lab at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Stat,
    Urgent,
    Routine,
}

/// Who moves an order: the role, and whether they are the doctor who ordered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mover {
    pub role: Role,
    pub ordered_it: bool,
}

/// Checks a move from `from` to `to` by `who`: `Forbidden` for the wrong person, a conflict
/// naming the current state for a move the order cannot make.
pub fn check_move(from: OrderStatus, to: OrderStatus, who: Mover) -> Result<(), DomainError> {
    use OrderStatus::*;
    let allowed = match to {
        InProgress | Completed => who.role == Role::LabTech,
        // Results are corrected by the lab's message, or its technician.
        Corrected => who.role == Role::LabTech,
        Reviewed => who.role == Role::Doctor && who.ordered_it,
        Cancelled => {
            (who.role == Role::Doctor && who.ordered_it) || who.role == Role::HospitalAdmin
        }
        Ordered => false,
    };
    if !allowed {
        return Err(DomainError::Forbidden);
    }
    if !from.next().contains(&to) {
        return Err(DomainError::Conflict {
            message: format!(
                "an order that is {} cannot become {}",
                from.as_str(),
                to.as_str()
            ),
            current: Some(from.as_str().to_owned()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    const LAB: Mover = Mover {
        role: Role::LabTech,
        ordered_it: false,
    };
    const ORDERING_DOCTOR: Mover = Mover {
        role: Role::Doctor,
        ordered_it: true,
    };
    const OTHER_DOCTOR: Mover = Mover {
        role: Role::Doctor,
        ordered_it: false,
    };

    #[test]
    fn the_order_moves_through_its_life_by_the_right_hands() {
        for (from, to, who) in [
            (Ordered, InProgress, LAB),
            (InProgress, Completed, LAB),
            (Completed, Reviewed, ORDERING_DOCTOR),
            (Reviewed, Corrected, LAB),
            (Corrected, Reviewed, ORDERING_DOCTOR),
            (Ordered, Cancelled, ORDERING_DOCTOR),
            (
                InProgress,
                Cancelled,
                Mover {
                    role: Role::HospitalAdmin,
                    ordered_it: false,
                },
            ),
        ] {
            assert_eq!(check_move(from, to, who), Ok(()), "{from:?} → {to:?}");
        }
    }

    #[test]
    fn wrong_hands_are_refused_and_illegal_moves_name_the_state() {
        assert_eq!(
            check_move(Completed, Reviewed, OTHER_DOCTOR),
            Err(DomainError::Forbidden),
            "only the doctor who ordered it reviews"
        );
        assert_eq!(
            check_move(Ordered, InProgress, ORDERING_DOCTOR),
            Err(DomainError::Forbidden)
        );
        let nurse = Mover {
            role: Role::Nurse,
            ordered_it: false,
        };
        for to in OrderStatus::ALL {
            assert_eq!(check_move(Ordered, to, nurse), Err(DomainError::Forbidden));
        }
        match check_move(Completed, Cancelled, ORDERING_DOCTOR) {
            Err(DomainError::Conflict { current, .. }) => {
                assert_eq!(
                    current.as_deref(),
                    Some("completed"),
                    "no cancelling after results"
                )
            }
            other => panic!("{other:?}"),
        }
        match check_move(Ordered, Completed, LAB) {
            Err(DomainError::Conflict { current, .. }) => {
                assert_eq!(current.as_deref(), Some("ordered"))
            }
            other => panic!("{other:?}"),
        }
        assert!(Cancelled.next().is_empty());
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn stat_sorts_first() {
        let mut p = [Priority::Routine, Priority::Stat, Priority::Urgent];
        p.sort();
        assert_eq!(p, [Priority::Stat, Priority::Urgent, Priority::Routine]);
    }
}
