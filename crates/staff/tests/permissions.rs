//! Every permission of every role, through the table and through the gate with real PINs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use paydesk_staff::{Action, Context, Denied, Role};

/// Written out by hand from the issue (cashier: charge, cancel their own, reprint, open a
/// shift; supervisor: also refunds, reports, close shift, cancel anyone's, lift lockouts;
/// owner: also settings, keys, mode, export, staff), not derived from the code.
const EXPECTED: &[(Action, [bool; 3])] = &[
    //                     cashier supervisor owner
    (Action::Charge, [true, true, true]),
    (Action::CancelOwn, [true, true, true]),
    (Action::Reprint, [true, true, true]),
    (Action::OpenShift, [true, true, true]),
    (Action::CancelAny, [false, true, true]),
    (Action::Refund, [false, true, true]),
    (Action::Report, [false, true, true]),
    (Action::CloseShift, [false, true, true]),
    (Action::Unlock, [false, true, true]),
    (Action::Settings, [false, false, true]),
    (Action::Keys, [false, false, true]),
    (Action::Mode, [false, false, true]),
    (Action::Export, [false, false, true]),
    (Action::Staff, [false, false, true]),
];

fn expected(role: Role, action: Action) -> bool {
    let (_, row) = EXPECTED
        .iter()
        .find(|(a, _)| *a == action)
        .unwrap_or_else(|| panic!("{action} is missing from the expected table"));
    row[Role::ALL.iter().position(|r| *r == role).unwrap()]
}

#[test]
fn the_expected_table_names_every_action_once() {
    for action in Action::ALL {
        assert_eq!(
            EXPECTED.iter().filter(|(a, _)| *a == action).count(),
            1,
            "{action}"
        );
    }
    assert_eq!(EXPECTED.len(), Action::ALL.len());
}

#[test]
fn every_role_may_exactly_what_the_issue_says() {
    for role in Role::ALL {
        for action in Action::ALL {
            assert_eq!(
                role.may(action),
                expected(role, action),
                "{role} may {action}?"
            );
        }
    }
}

#[test]
fn every_pin_gets_exactly_its_roles_permissions_at_the_gate() {
    let (till, crew) = Till::with_crew();
    let people = [
        (Role::Cashier, &crew.cashier, CASHIER_PIN),
        (Role::Supervisor, &crew.supervisor, SUPERVISOR_PIN),
        (Role::Owner, &crew.owner, OWNER_PIN),
    ];
    for (role, person, p) in people {
        for action in Action::ALL {
            // A cancel of their own payment, so CancelOwn is judged as CancelOwn.
            let ctx = Context::payment("pay_1", Some(person.id));
            match till.store.authorize(&pin(p), action, &ctx) {
                Ok(grant) => {
                    assert!(expected(role, action), "{role} was granted {action}");
                    assert_eq!(grant.person().id, person.id);
                    assert_eq!(grant.action(), action);
                    assert_eq!(grant.subject(), Some("pay_1"));
                    assert!(grant.approved_by().is_none());
                }
                Err(Denied::NotAllowed {
                    needs, action: a, ..
                }) => {
                    assert!(!expected(role, action), "{role} was refused {action}");
                    assert_eq!(a, action);
                    assert!(needs > role);
                    assert!(
                        needs.may(action)
                            && Role::ALL.iter().all(|r| r.may(action) == (*r >= needs))
                    );
                }
                Err(other) => panic!("{role} {action}: {other}"),
            }
        }
    }
}

#[test]
fn a_signed_in_person_gets_the_same_answers_without_typing_a_pin_again() {
    let (till, _) = Till::with_crew();
    for p in [CASHIER_PIN, SUPERVISOR_PIN, OWNER_PIN] {
        let who = till.store.sign_in(&pin(p)).unwrap();
        for action in Action::ALL {
            let ctx = Context::payment("pay_2", Some(who.id()));
            let granted = till.store.authorize_signed_in(&who, action, &ctx).is_ok();
            assert_eq!(granted, expected(who.person().role, action), "{p} {action}");
        }
    }
}

#[test]
fn a_cancel_of_someone_elses_or_an_unknown_payment_is_cancel_any() {
    let (till, crew) = Till::with_crew();
    let cara = pin(CASHIER_PIN);
    let own = till
        .store
        .authorize(
            &cara,
            Action::CancelOwn,
            &Context::payment("p1", Some(crew.cashier.id)),
        )
        .unwrap();
    assert_eq!(own.action(), Action::CancelOwn);

    for owner in [Some(crew.other_cashier.id), None] {
        let err = till
            .store
            .authorize(&cara, Action::CancelOwn, &Context::payment("p2", owner))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Denied::NotAllowed {
                    action: Action::CancelAny,
                    needs: Role::Supervisor,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Only a supervisor can cancel another cashier's payment. Ask one to enter their PIN."
        );
    }

    let sam = till
        .store
        .authorize(
            &pin(SUPERVISOR_PIN),
            Action::CancelOwn,
            &Context::payment("p2", Some(crew.cashier.id)),
        )
        .unwrap();
    assert_eq!(sam.action(), Action::CancelAny);
    sam.require(Action::CancelOwn).unwrap();
}

#[test]
fn a_denial_says_who_can_help_in_a_cashiers_words() {
    let (till, _) = Till::with_crew();
    let refund = till
        .store
        .authorize(&pin(CASHIER_PIN), Action::Refund, &Context::subject("p1"))
        .unwrap_err();
    assert_eq!(
        refund.to_string(),
        "Only a supervisor can refund. Ask one to enter their PIN."
    );
    let keys = till
        .store
        .authorize(&pin(SUPERVISOR_PIN), Action::Keys, &Context::none())
        .unwrap_err();
    assert_eq!(
        keys.to_string(),
        "Only the owner can change the keys. Ask them to enter their PIN."
    );
}
