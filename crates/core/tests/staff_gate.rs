//! The staff gate in the till's own operations: a real staff file, a real journal and a
//! real Crypto.com Pay (the sandbox on loopback) behind a running terminal. Who may charge,
//! cancel and refund is decided by the core, whoever calls it, and every grant, refusal,
//! override and lockout is journaled and in the audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::config::Mode;
use paydesk_core::journal::{ActionKind, Journal};
use paydesk_core::secrets::Secret;
use paydesk_core::staff::{
    Action, AuditKind, Context, Denied, GateError, Person, Pin, PinCost, Policy, Role, SignIn,
    Staff, StaffKind, DEMO_OWNER_NAME, DEMO_OWNER_PIN,
};
use paydesk_core::terminal::{ChargeRequest, Terminal, TerminalError, TerminalSetup};
use paydesk_core::{Currency, Money, PaymentStatus};
use paydesk_sandbox::{SandboxConfig, SandboxHandle};
use tokio::net::TcpListener;

const SECRET: &str = "sk_test_staff_gate";
const OWNER_PIN: &str = "900001";
const SUPERVISOR_PIN: &str = "5005";
const CASHIER_PIN: &str = "4821";
const OTHER_CASHIER_PIN: &str = "24680";

fn pin(s: &str) -> Pin {
    s.parse().unwrap()
}

/// Real argon2id at a test-sized cost; the default's is in paydesk-staff's own tests.
fn policy() -> Policy {
    Policy {
        pin_cost: PinCost::new(8 * 1024, 1, 1).unwrap(),
        ..Policy::default()
    }
}

fn eur(minor: i128) -> Money {
    Money::new(minor, Currency::from_code("EUR").unwrap())
}

struct Crew {
    owner: Person,
    supervisor: Person,
    cashier: Person,
    other_cashier: Person,
}

/// A till: the sandbox, a journal and a staff file in a temp folder, a running terminal.
struct Shop {
    _dir: tempfile::TempDir,
    sandbox: SandboxHandle,
    staff: Staff,
    terminal: Terminal,
}

impl Shop {
    async fn open(staff: impl FnOnce(&std::path::Path) -> Staff) -> Shop {
        paydesk_core::init_tls();
        let dir = tempfile::tempdir().unwrap();
        let mut config = SandboxConfig::new(Secret::new(SECRET), Secret::new("whsec_gate"));
        config.app_refund_delay = Duration::ZERO;
        let sandbox =
            paydesk_sandbox::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), config)
                .await
                .unwrap();
        let staff = staff(dir.path());
        let journal =
            Arc::new(Journal::open_book(dir.path().join("journal.sqlite3"), Mode::Test).unwrap());
        let mut setup = TerminalSetup::new("Till 1", sandbox.api_url(), Secret::new(SECRET));
        setup.staff = staff.clone();
        let terminal = Terminal::start(setup, journal).await.unwrap();
        Shop {
            _dir: dir,
            sandbox,
            staff,
            terminal,
        }
    }

    /// A till whose own staff file has nobody on it yet.
    async fn unstaffed() -> Shop {
        Shop::open(|dir| Staff::open_till(dir, policy()).unwrap()).await
    }

    /// A till with an owner, a supervisor and two cashiers.
    async fn staffed() -> (Shop, Crew) {
        let shop = Shop::unstaffed().await;
        let owner = shop
            .staff
            .provision_owner("Olga".into(), pin(OWNER_PIN))
            .await
            .unwrap();
        let add = |name: &'static str, role: Role, p: &'static str| {
            let staff = shop.staff.clone();
            async move {
                let by = staff
                    .authorize(Some(pin(OWNER_PIN)), Action::Staff, Context::subject(name))
                    .await
                    .unwrap();
                staff.add(by, name.into(), role, pin(p)).await.unwrap()
            }
        };
        let supervisor = add("Sam", Role::Supervisor, SUPERVISOR_PIN).await;
        let cashier = add("Cara", Role::Cashier, CASHIER_PIN).await;
        let other_cashier = add("Cy", Role::Cashier, OTHER_CASHIER_PIN).await;
        (
            shop,
            Crew {
                owner,
                supervisor,
                cashier,
                other_cashier,
            },
        )
    }

    /// A paid payment charged by whoever `charger_pin` belongs to.
    async fn paid_payment(&self, charger_pin: &str) -> String {
        let by = self
            .terminal
            .authorize(Some(pin(charger_pin)), Action::Charge, Context::none())
            .await
            .unwrap();
        let p = self
            .terminal
            .charge_as(by, ChargeRequest::new(eur(1250)))
            .await
            .unwrap();
        self.sandbox.pay(&p.id).unwrap();
        p.id
    }

    async fn charge(&self, pin_text: &str) -> String {
        let by = self
            .terminal
            .authorize(Some(pin(pin_text)), Action::Charge, Context::none())
            .await
            .unwrap();
        self.terminal
            .charge_as(by, ChargeRequest::new(eur(500)))
            .await
            .unwrap()
            .id
    }

    async fn audit(&self) -> Vec<paydesk_core::staff::AuditEntry> {
        self.staff.audit_after(0, 10_000).await.unwrap()
    }

    async fn refunded_at_the_service(&self, id: &str) -> i128 {
        self.terminal
            .gateway()
            .retrieve_payment(id)
            .await
            .unwrap()
            .amount_refunded
    }

    async fn shutdown(self) {
        self.terminal.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

fn denied_not_allowed(e: &TerminalError) -> bool {
    matches!(
        e,
        TerminalError::Gate(GateError::Denied(Denied::NotAllowed { .. }))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_may_do_exactly_what_the_table_says_at_the_till() {
    let (shop, _crew) = Shop::staffed().await;
    for (role, p) in [
        (Role::Cashier, CASHIER_PIN),
        (Role::Supervisor, SUPERVISOR_PIN),
        (Role::Owner, OWNER_PIN),
    ] {
        for action in Action::ALL {
            // About nobody's payment: a cancel is judged as of someone else's.
            let judged = match action {
                Action::CancelOwn => Action::CancelAny,
                a => a,
            };
            let result = shop
                .terminal
                .authorize(Some(pin(p)), action, Context::subject("pay_x"))
                .await;
            match result {
                Ok(op) => {
                    assert!(role.may(judged), "{role} was allowed {action}");
                    assert_eq!(op.action(), judged);
                    assert_eq!(op.person().unwrap().role, role);
                }
                Err(e) => {
                    assert!(!role.may(judged), "{role} was refused {action}: {e}");
                    assert!(denied_not_allowed(&e), "{e}");
                }
            }
        }
    }
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_names_its_cashier_in_the_journal_and_the_payment_metadata() {
    let (shop, crew) = Shop::staffed().await;
    let id = shop.charge(CASHIER_PIN).await;
    let at_service = shop.terminal.gateway().retrieve_payment(&id).await.unwrap();
    let metadata = at_service.metadata.unwrap();
    assert_eq!(metadata["paydesk_cashier"], "Cara");
    assert_eq!(
        metadata["paydesk_cashier_id"],
        crew.cashier.id.get().to_string()
    );
    let lookup = id.clone();
    let entry = shop
        .terminal
        .journal()
        .call(move |j| j.entry(&lookup))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.cashier.as_deref(), Some("Cara"));
    let lookup = id.clone();
    let creator = shop
        .terminal
        .journal()
        .call(move |j| j.creator(&lookup))
        .await
        .unwrap();
    assert_eq!(creator, Some(crew.cashier.id.get()));
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_cannot_refund_and_nothing_reaches_the_service() {
    let (shop, crew) = Shop::staffed().await;
    let id = shop.paid_payment(CASHIER_PIN).await;
    let about = shop.terminal.payment_context(&id).await.unwrap();
    let err = shop
        .terminal
        .authorize(Some(pin(CASHIER_PIN)), Action::Refund, about)
        .await
        .unwrap_err();
    assert!(denied_not_allowed(&err), "{err}");
    assert_eq!(
        err.to_string(),
        "Only a supervisor can refund. Ask one to enter their PIN."
    );
    assert_eq!(shop.refunded_at_the_service(&id).await, 0);
    let lookup = id.clone();
    let requests = shop
        .terminal
        .journal()
        .call(move |j| j.requests(&lookup))
        .await
        .unwrap();
    assert!(requests.is_empty(), "{requests:?}");
    let denied = shop
        .audit()
        .await
        .into_iter()
        .find(|e| e.kind == AuditKind::Denied)
        .expect("the refusal is in the audit trail");
    assert_eq!(denied.action, Some(Action::Refund));
    assert_eq!(denied.person.unwrap().id, crew.cashier.id);
    assert_eq!(denied.subject.as_deref(), Some(id.as_str()));
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_override_lets_one_refund_through_and_both_are_journaled() {
    let (shop, crew) = Shop::staffed().await;
    let id = shop.paid_payment(CASHIER_PIN).await;
    let screen = SignIn::new(None);
    let signed = screen.sign_in(&shop.staff, pin(CASHIER_PIN)).await.unwrap();
    assert_eq!(signed.person.name, "Cara");

    // On her own she may not; with Sam's PIN on her screen she may, once.
    let about = shop.terminal.payment_context(&id).await.unwrap();
    let err = screen
        .operator(&shop.staff, Action::Refund, about.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GateError::Denied(Denied::NotAllowed { .. })),
        "{err}"
    );
    let by = screen
        .override_operator(&shop.staff, pin(SUPERVISOR_PIN), Action::Refund, about)
        .await
        .unwrap();
    assert_eq!(by.person().unwrap().id, crew.cashier.id);
    assert_eq!(by.approved_by().unwrap().id, crew.supervisor.id);
    shop.terminal
        .refund_as(by, &id, Some(eur(250)), Some("broken cup".into()))
        .await
        .unwrap();
    assert_eq!(shop.refunded_at_the_service(&id).await, 250);

    let lookup = id.clone();
    let requests = shop
        .terminal
        .journal()
        .call(move |j| j.requests(&lookup))
        .await
        .unwrap();
    let (refund, outcome) = &requests[0];
    assert_eq!(refund.kind, ActionKind::Refund { amount: eur(250) });
    assert_eq!(refund.who.cashier.as_deref(), Some("Cara"));
    assert_eq!(refund.who.cashier_id, Some(crew.cashier.id.get()));
    assert_eq!(refund.who.approved_by.as_deref(), Some("Sam"));
    assert_eq!(outcome.as_deref(), Some("refunded"));

    let over = shop
        .audit()
        .await
        .into_iter()
        .find(|e| e.kind == AuditKind::Override)
        .expect("the override is in the audit trail");
    assert_eq!(over.person.unwrap().name, "Cara");
    assert_eq!(over.approver.unwrap().name, "Sam");
    assert_eq!(over.action, Some(Action::Refund));
    assert_eq!(over.subject.as_deref(), Some(id.as_str()));

    // The override was for one refund: the next one needs another.
    let about = shop.terminal.payment_context(&id).await.unwrap();
    assert!(screen
        .operator(&shop.staff, Action::Refund, about)
        .await
        .is_err());
    // A cashier's PIN cannot approve an override.
    let about = shop.terminal.payment_context(&id).await.unwrap();
    let err = screen
        .override_operator(&shop.staff, pin(OTHER_CASHIER_PIN), Action::Refund, about)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GateError::Denied(Denied::NotAllowed { .. })),
        "{err}"
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_cancels_their_own_payment_but_not_a_colleagues() {
    let (shop, crew) = Shop::staffed().await;
    let hers = shop.charge(CASHIER_PIN).await;
    let his = shop.charge(OTHER_CASHIER_PIN).await;

    // Cy may not cancel Cara's payment…
    let about = shop.terminal.payment_context(&hers).await.unwrap();
    let err = shop
        .terminal
        .authorize(Some(pin(OTHER_CASHIER_PIN)), Action::CancelOwn, about)
        .await
        .unwrap_err();
    assert!(denied_not_allowed(&err), "{err}");
    // …nor talk the terminal into it with a context that lies about who created it.
    let lie = Context::payment(hers.clone(), Some(crew.other_cashier.id));
    let forged = shop
        .terminal
        .authorize(Some(pin(OTHER_CASHIER_PIN)), Action::CancelOwn, lie)
        .await
        .unwrap();
    let err = shop.terminal.cancel_as(forged, &hers).await.unwrap_err();
    assert!(
        matches!(err, TerminalError::Gate(GateError::WrongAction { .. })),
        "{err}"
    );
    // An operator for his own payment does not cancel hers either.
    let about = shop.terminal.payment_context(&his).await.unwrap();
    let for_his = shop
        .terminal
        .authorize(Some(pin(OTHER_CASHIER_PIN)), Action::CancelOwn, about)
        .await
        .unwrap();
    let err = shop.terminal.cancel_as(for_his, &hers).await.unwrap_err();
    assert!(
        matches!(err, TerminalError::Gate(GateError::WrongSubject { .. })),
        "{err}"
    );
    let status = shop
        .terminal
        .gateway()
        .retrieve_payment(&hers)
        .await
        .unwrap();
    assert_eq!(status.effective_status(), PaymentStatus::Pending);

    // Cara cancels her own, and the journal says she did.
    let about = shop.terminal.payment_context(&hers).await.unwrap();
    let by = shop
        .terminal
        .authorize(Some(pin(CASHIER_PIN)), Action::CancelOwn, about)
        .await
        .unwrap();
    assert_eq!(by.action(), Action::CancelOwn);
    let cancelled = shop.terminal.cancel_as(by, &hers).await.unwrap();
    assert_eq!(cancelled.effective_status(), PaymentStatus::Cancelled);
    let lookup = hers.clone();
    let requests = shop
        .terminal
        .journal()
        .call(move |j| j.requests(&lookup))
        .await
        .unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0.kind, ActionKind::Cancel);
    assert_eq!(requests[0].0.who.cashier.as_deref(), Some("Cara"));

    // A supervisor cancels anyone's.
    let about = shop.terminal.payment_context(&his).await.unwrap();
    let by = shop
        .terminal
        .authorize(Some(pin(SUPERVISOR_PIN)), Action::CancelOwn, about)
        .await
        .unwrap();
    assert_eq!(by.action(), Action::CancelAny);
    shop.terminal.cancel_as(by, &his).await.unwrap();
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_lock_a_person_out_until_a_supervisor_lifts_it() {
    let (shop, crew) = Shop::staffed().await;
    let screen = SignIn::new(None);
    for _ in 0..4 {
        let err = screen
            .sign_in_as(&shop.staff, crew.cashier.id, pin("0000"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GateError::Denied(Denied::WrongPin { .. })),
            "{err}"
        );
        assert!(err.is_pin_refused());
    }
    let err = screen
        .sign_in_as(&shop.staff, crew.cashier.id, pin("0000"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GateError::Denied(Denied::LockedOut { .. })),
        "{err}"
    );

    // Locked out: her right PIN opens nothing, by name or alone, and charges nothing.
    assert!(screen
        .sign_in_as(&shop.staff, crew.cashier.id, pin(CASHIER_PIN))
        .await
        .is_err());
    let err = shop
        .terminal
        .authorize(Some(pin(CASHIER_PIN)), Action::Charge, Context::none())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Cara until"), "{err}");
    // Everyone else works on.
    assert!(screen
        .sign_in(&shop.staff, pin(OTHER_CASHIER_PIN))
        .await
        .is_ok());

    // A supervisor lifts it; the trail has every step.
    let by = shop
        .terminal
        .authorize(
            Some(pin(SUPERVISOR_PIN)),
            Action::Unlock,
            Context::subject("Cara"),
        )
        .await
        .unwrap();
    shop.staff.lift_lockout(by, crew.cashier.id).await.unwrap();
    assert!(screen.sign_in(&shop.staff, pin(CASHIER_PIN)).await.is_ok());
    let kinds: Vec<AuditKind> = shop.audit().await.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == AuditKind::WrongPin).count(),
        6,
        "{kinds:?}"
    );
    for k in [
        AuditKind::LockedOut,
        AuditKind::LockoutLifted,
        AuditKind::SignedIn,
        AuditKind::TillLocked,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
    let _ = crew.owner;
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_pins_pause_the_pin_pad_for_everyone_even_the_owner() {
    let (shop, _crew) = Shop::staffed().await;
    for _ in 0..10 {
        let err = shop
            .terminal
            .authorize(Some(pin("1111")), Action::Charge, Context::none())
            .await
            .unwrap_err();
        assert!(
            matches!(err, TerminalError::Gate(ref g) if g.is_pin_refused()),
            "{err}"
        );
    }
    let err = shop
        .terminal
        .authorize(Some(pin(OWNER_PIN)), Action::Charge, Context::none())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TerminalError::Gate(GateError::Denied(Denied::TillPaused { .. }))
        ),
        "{err}"
    );
    let kinds: Vec<AuditKind> = shop.audit().await.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&AuditKind::TillPaused), "{kinds:?}");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_till_acts_for_nobody_and_says_who_locked_it() {
    let (shop, _crew) = Shop::staffed().await;
    let screen = SignIn::new(None);
    let err = screen
        .operator(&shop.staff, Action::Charge, Context::none())
        .await
        .unwrap_err();
    assert!(matches!(err, GateError::Locked), "{err}");
    screen.sign_in(&shop.staff, pin(CASHIER_PIN)).await.unwrap();
    let by = screen
        .operator(&shop.staff, Action::Charge, Context::none())
        .await
        .unwrap();
    assert_eq!(by.name(), "Cara");
    drop(by);
    let was = screen.lock(&shop.staff).await.unwrap();
    assert_eq!(was.name, "Cara");
    assert!(screen.current().await.is_none());
    assert!(matches!(
        screen
            .operator(&shop.staff, Action::Charge, Context::none())
            .await,
        Err(GateError::Locked)
    ));
    let locked = shop
        .audit()
        .await
        .into_iter()
        .find(|e| e.kind == AuditKind::TillLocked)
        .unwrap();
    assert_eq!(locked.person.unwrap().name, "Cara");
    assert_eq!(locked.detail.as_deref(), Some("on-demand"));
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_without_staff_works_unattended_until_its_owner_is_set() {
    let shop = Shop::unstaffed().await;
    // Callers that ask for no PIN (the app before sign-in existed) keep selling.
    let p = shop.terminal.charge(eur(300), None).await.unwrap();
    let lookup = p.id.clone();
    let entry = shop
        .terminal
        .journal()
        .call(move |j| j.entry(&lookup))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.cashier, None);
    let at_service = shop
        .terminal
        .gateway()
        .retrieve_payment(&p.id)
        .await
        .unwrap();
    assert!(at_service
        .metadata
        .unwrap()
        .get("paydesk_cashier")
        .is_none());
    // Who charged is the gate's to say: a request cannot name a cashier itself.
    let mut forged = ChargeRequest::new(eur(300));
    forged
        .metadata
        .insert("paydesk_cashier".into(), "Mallory".into());
    let q = shop.terminal.charge_request(forged).await.unwrap();
    let at_service = shop
        .terminal
        .gateway()
        .retrieve_payment(&q.id)
        .await
        .unwrap();
    assert!(at_service
        .metadata
        .unwrap()
        .get("paydesk_cashier")
        .is_none());
    let lookup = q.id.clone();
    let entry = shop
        .terminal
        .journal()
        .call(move |j| j.entry(&lookup))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.cashier, None);
    // A PIN on a till without staff checks nothing.
    let op = shop
        .terminal
        .authorize(
            Some(pin("9999")),
            Action::Export,
            Context::subject("2026-11-28"),
        )
        .await
        .unwrap();
    assert_eq!(op.name(), "unattended");
    let done = op.done(Action::Export).unwrap();
    assert_eq!(done.who, paydesk_core::journal::Who::unattended());

    // The first owner ends that for good.
    shop.staff
        .provision_owner("Olga".into(), pin(OWNER_PIN))
        .await
        .unwrap();
    let created = shop.sandbox.stats().payments;
    let err = shop.terminal.charge(eur(300), None).await.unwrap_err();
    assert!(
        matches!(
            err,
            TerminalError::Gate(GateError::PinNeeded {
                action: Action::Charge,
                demo_pin: None
            })
        ),
        "{err}"
    );
    let err = shop.terminal.refund(&p.id, None, None).await.unwrap_err();
    assert!(
        matches!(err, TerminalError::Gate(GateError::PinNeeded { .. })),
        "{err}"
    );
    assert_eq!(
        shop.sandbox.stats().payments,
        created,
        "nothing reached the service"
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_has_its_own_owner_and_never_touches_the_tills_file() {
    let shop = Shop::open(|dir| Staff::open(dir, Mode::Demo, policy()).unwrap()).await;
    assert_eq!(shop.staff.kind(), StaffKind::Demo);
    let people = shop.staff.list().await.unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].name, DEMO_OWNER_NAME);
    // A caller without a PIN acts as the demo owner, through the gate.
    let p = shop.terminal.charge(eur(100), None).await.unwrap();
    let at_service = shop
        .terminal
        .gateway()
        .retrieve_payment(&p.id)
        .await
        .unwrap();
    assert_eq!(
        at_service.metadata.unwrap()["paydesk_cashier"],
        DEMO_OWNER_NAME
    );
    let granted = shop
        .audit()
        .await
        .into_iter()
        .find(|e| e.kind == AuditKind::Granted)
        .unwrap();
    assert_eq!(granted.person.unwrap().name, DEMO_OWNER_NAME);
    // A missing PIN on the demo says which PIN to type.
    let err = shop
        .staff
        .authorize(None, Action::Refund, Context::subject(p.id.clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(DEMO_OWNER_PIN), "{err}");

    // The till's own file stays empty; once it has an owner, the demo uses it instead.
    let dir = shop.staff.path().unwrap().parent().unwrap().to_owned();
    let till = Staff::open_till(&dir, policy()).unwrap();
    assert!(!till.has_staff().await.unwrap());
    till.provision_owner("Olga".into(), pin(OWNER_PIN))
        .await
        .unwrap();
    let demo = Staff::open(&dir, Mode::Demo, policy()).unwrap();
    assert_eq!(demo.kind(), StaffKind::Till);
    assert!(demo
        .authorize(Some(pin(DEMO_OWNER_PIN)), Action::Charge, Context::none())
        .await
        .is_err());
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_and_other_operations_are_journaled_with_the_person() {
    let (shop, crew) = Shop::staffed().await;
    let by = shop
        .terminal
        .authorize(
            Some(pin(OWNER_PIN)),
            Action::Export,
            Context::subject("2026-11-28"),
        )
        .await
        .unwrap();
    // An operator allowed one thing records only that thing.
    let wrong = shop
        .terminal
        .authorize(Some(pin(SUPERVISOR_PIN)), Action::Report, Context::none())
        .await
        .unwrap();
    assert!(shop
        .terminal
        .record_operation(wrong, Action::Export, None)
        .await
        .is_err());
    shop.terminal
        .record_operation(by, Action::Export, Some("3 payments as CSV".into()))
        .await
        .unwrap();
    let today = chrono::Local::now().date_naive();
    let ops = shop
        .terminal
        .journal()
        .call(move |j| j.operations(today, &chrono::Local))
        .await
        .unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0].action, "export");
    assert_eq!(ops[0].subject.as_deref(), Some("2026-11-28"));
    assert_eq!(ops[0].detail.as_deref(), Some("3 payments as CSV"));
    assert_eq!(ops[0].who.cashier_id, Some(crew.owner.id.get()));
    assert_eq!(ops[0].who.cashier.as_deref(), Some("Olga"));
    shop.shutdown().await;
}
