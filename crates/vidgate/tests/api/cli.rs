//! The command line, as a new user meets it: keys, serve, submit --wait, status/result/cancel.

use crate::helpers::ffprobe;
use crate::process::{Server, vidgate};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn keys_are_created_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let created = vidgate(dir.path(), &["keys", "create", "--name", "ci"], &[]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let out = stdout(&created);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "the key is the only line on stdout: {out:?}");
    assert!(lines[0].starts_with("vg_") && lines[0].len() == 43);

    let again = vidgate(dir.path(), &["keys", "create", "--name", "ci"], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let list = stdout(&vidgate(dir.path(), &["keys", "list"], &[]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("ci ") && l.contains("active") && l.contains(" defaults ")),
        "{list}"
    );
    assert!(!list.contains(lines[0]), "listings never show keys");

    // Own limits: at creation, changed later, reset with `default`; nonsense is refused.
    let limited = vidgate(
        dir.path(),
        &["keys", "create", "--name", "batch", "--create-rate", "0.5", "--max-queued", "100"],
        &[],
    );
    assert!(limited.status.success(), "{}", String::from_utf8_lossy(&limited.stderr));
    let changed = vidgate(
        dir.path(),
        &["keys", "limits", "batch", "--create-rate", "default", "--max-body-bytes", "65536"],
        &[],
    );
    assert_eq!(stdout(&changed).trim(), "max_queued=100 max_body_bytes=65536");
    let shown = vidgate(dir.path(), &["keys", "limits", "batch"], &[]);
    assert_eq!(stdout(&shown).trim(), "max_queued=100 max_body_bytes=65536");
    let list = stdout(&vidgate(dir.path(), &["keys", "list"], &[]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("batch ") && l.contains("max_queued=100 max_body_bytes=65536")),
        "{list}"
    );
    let bad = vidgate(dir.path(), &["keys", "limits", "batch", "--max-queued", "-3"], &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--max-queued"));
    assert!(!vidgate(dir.path(), &["keys", "limits", "nobody"], &[]).status.success());

    assert!(vidgate(dir.path(), &["keys", "revoke", "ci"], &[]).status.success());
    let list = stdout(&vidgate(dir.path(), &["keys", "list"], &[]));
    assert!(list.lines().any(|l| l.starts_with("ci ") && l.contains("revoked")), "{list}");
    assert!(!vidgate(dir.path(), &["keys", "revoke", "ci"], &[]).status.success());
}

/// The same key commands over a running vidgate's admin API (`--url`, `VIDGATE_ADMIN_KEY`),
/// as an operator without a shell on the database host runs them; and `vidgate usage`.
#[test]
fn keys_and_usage_work_remotely_with_an_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    const ADMIN: &str = "remote-admin-key-0123456789abcdef";
    let server = Server::start(dir.path(), &[("VIDGATE_BOOTSTRAP_KEY", ADMIN)]);
    let remote = [("VIDGATE_ADMIN_URL", server.base.as_str()), ("VIDGATE_ADMIN_KEY", ADMIN)];
    // Another directory: nothing here reaches the server's database.
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = vidgate(elsewhere.path(), args, &remote);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let key = run(&["keys", "create", "--name", "team-b", "--max-queued", "7"]).trim().to_owned();
    assert!(key.starts_with("vg_"), "{key}");
    assert_eq!(
        run(&["keys", "budget", "team-b", "--prepaid", "true", "--day-limit", "5"]).trim(),
        "balance=0 prepaid today=0 month=0 day_limit=5"
    );
    assert_eq!(
        run(&["keys", "top-up", "team-b", "1.5", "--note", "po 42"]).trim(),
        "balance=1.5 prepaid today=0 month=0 day_limit=5"
    );
    assert_eq!(
        run(&["keys", "limits", "team-b", "--max-running", "2"]).trim(),
        "max_queued=7 max_running=2"
    );
    let list = run(&["keys", "list"]);
    let line = list.lines().find(|l| l.starts_with("team-b ")).unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains(" user ") && line.contains("balance=1.5"), "{line}");
    assert!(list.lines().any(|l| l.starts_with("bootstrap ") && l.contains(" admin ")), "{list}");

    // The new key spends; the report shows it, as a table and as CSV.
    let client = [("VIDGATE_URL", server.base.as_str()), ("VIDGATE_API_KEY", key.as_str())];
    let submitted = vidgate(
        elsewhere.path(),
        &[
            "submit",
            "--model",
            "Vidu",
            "--version",
            "q2",
            "--prompt",
            "remote",
            "--duration",
            "1",
            "--resolution",
            "720P",
        ],
        &client,
    );
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    let csv = run(&["usage", "--group-by", "key", "--csv", "--key", "team-b"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "group,requests,succeeded,released,pending,seconds,spent");
    assert!(lines[1].contains(",1,") && lines[1].ends_with(",0.1"), "{csv}");
    let table = run(&["usage", "--group-by", "model"]);
    assert!(table.lines().any(|l| l.starts_with("Vidu ")), "{table}");
    assert!(table.lines().last().unwrap().starts_with("total "), "{table}");

    // A user key is refused, an admin key cannot revoke itself, secrets stay on the host.
    let user = [("VIDGATE_ADMIN_URL", server.base.as_str()), ("VIDGATE_ADMIN_KEY", key.as_str())];
    let refused = vidgate(elsewhere.path(), &["keys", "list"], &user);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("403"), "{refused:?}");
    let own = vidgate(elsewhere.path(), &["keys", "revoke", "bootstrap"], &remote);
    assert!(String::from_utf8_lossy(&own.stderr).contains("another admin key"), "{own:?}");
    let secret = vidgate(elsewhere.path(), &["keys", "secret", "team-b"], &remote);
    assert!(String::from_utf8_lossy(&secret.stderr).contains("needs the database"), "{secret:?}");
    run(&["keys", "revoke", "team-b"]);
    let list = run(&["keys", "list"]);
    assert!(list.lines().any(|l| l.starts_with("team-b ") && l.contains("revoked")), "{list}");
}

/// `keys create --admin` on the database host makes an admin key.
#[test]
fn an_admin_key_is_made_on_the_database_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = vidgate(dir.path(), &["keys", "create", "--name", "ops", "--admin"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = stdout(&vidgate(dir.path(), &["keys", "list"], &[]));
    assert!(list.lines().any(|l| l.starts_with("ops ") && l.contains(" admin ")), "{list}");
}

/// Changes made with the command line on the database host are in the audit log, by
/// `cli@<hostname>`, as the admin API's are by the acting key; nothing secret is recorded.
#[tokio::test]
async fn changes_made_on_the_database_host_are_audited_as_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| vidgate(dir.path(), args, &[]);
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let key = ok(&["keys", "create", "--name", "ops", "--admin"]).trim().to_owned();
    ok(&["keys", "budget", "ops", "--prepaid", "true"]);
    ok(&["keys", "top-up", "ops", "5", "--note", "invoice 7"]);
    // No path takes a prepaid balance below zero: an adjustment past it is refused.
    let refused = run(&["keys", "top-up", "ops", "-10"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("below zero"));
    ok(&["keys", "limits", "ops", "--max-queued", "3"]);
    let secret = ok(&["keys", "rotate-secret", "ops"]).trim().to_owned();
    ok(&["keys", "secret", "ops"]);
    ok(&["keys", "revoke", "ops"]);

    const ADMIN: &str = "audit-reader-key-0123456789abcdef";
    let server = Server::start(dir.path(), &[("VIDGATE_BOOTSTRAP_KEY", ADMIN)]);
    let audit: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/admin/audit", server.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().or(audit.as_array()).expect("entries").clone();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let actor = format!("cli@{}", host.trim());
    let seen: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            let text = |f: &str| e[f].as_str().unwrap_or_default().to_owned();
            (text("actor_name"), text("action"), text("target"))
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        "key.create",
        "key.budget",
        "key.top_up",
        "key.limits",
        "key.rotate_secret",
        "key.secret_read",
        "key.revoke",
    ]
    .iter()
    .map(|a| (actor.clone(), (*a).to_owned(), "ops".to_owned()))
    .collect();
    assert_eq!(seen, want, "{audit}");
    assert_eq!(entries[0]["detail"]["role"], "admin");
    assert_eq!(entries[2]["detail"]["amount"], 5.0);
    let text = audit.to_string();
    assert!(!text.contains(&key) && !text.contains(&secret), "no secret in the audit log");
}

#[test]
fn config_default_prints_every_section_and_bad_settings_stop_startup_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&vidgate(dir.path(), &["config", "default"], &[]));
    for section in [
        "[server]",
        "[store]",
        "[queue]",
        "[rules]",
        "[provider]",
        "[sandbox]",
        "[workers]",
        "[log]",
        "[limits]",
        "[auth]",
    ] {
        assert!(out.contains(section), "{section} missing");
    }
    let bad = vidgate(dir.path(), &["serve"], &[("VIDGATE_SANDBOX__FPS", "0")]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sandbox.fps"));
    let bad = vidgate(dir.path(), &["serve", "--listen", "not-an-address"], &[]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("server.listen"));
    let bad = vidgate(dir.path(), &["serve"], &[("VIDGATE_LIMITS__CREATE_RATE", "-1")]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("limits.create_rate"));
}

#[test]
fn serve_prints_a_first_key_and_submit_waits_and_downloads_the_video() {
    let dir = tempfile::tempdir().unwrap();
    let fast = [
        ("VIDGATE_SANDBOX__QUEUE_DELAY", "100ms"),
        ("VIDGATE_SANDBOX__PROCESSING_TIME", "600ms"),
        ("VIDGATE_SANDBOX__POLL_INTERVAL", "100ms"),
        ("VIDGATE_SANDBOX__FPS", "8"),
    ];
    let server = Server::start(dir.path(), &fast);
    let first = server.stdout_line().expect("serve prints the first key");
    let key = first.rsplit(' ').next().unwrap().to_owned();
    assert!(key.starts_with("vg_"), "{first}");

    let out_file = dir.path().join("car.mp4");
    let client_env = [("VIDGATE_URL", server.base.as_str()), ("VIDGATE_API_KEY", key.as_str())];
    let submitted = vidgate(
        dir.path(),
        &[
            "submit",
            "--model",
            "Kling",
            "--version",
            "2.1",
            "--prompt",
            "a red car on a coast road",
            "--duration",
            "5",
            "--wait",
            "--output",
            out_file.to_str().unwrap(),
        ],
        &client_env,
    );
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    let id = stdout(&submitted).lines().next().unwrap().trim().to_owned();
    let probe = ffprobe(&out_file);
    assert_eq!((probe.video_codec.as_str(), probe.width, probe.height), ("h264", 1280, 720));
    assert!((probe.duration - 5.0).abs() < 0.05, "{}", probe.duration);

    let status = vidgate(dir.path(), &["status", &id], &client_env);
    assert!(stdout(&status).contains("\"COMPLETED\""), "{}", stdout(&status));
    let result = vidgate(dir.path(), &["result", &id], &client_env);
    assert!(stdout(&result).contains("\"video\""), "{}", stdout(&result));
    let cancel = vidgate(dir.path(), &["cancel", &id], &client_env);
    assert!(!cancel.status.success());
    assert_eq!(stdout(&cancel).trim(), "ALREADY_COMPLETED");

    let invalid = vidgate(
        dir.path(),
        &["submit", "--model", "Kling", "--version", "2.1", "--prompt", "x", "--duration", "99"],
        &client_env,
    );
    assert!(!invalid.status.success());
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("body.output_config.duration"));
    let no_key = vidgate(dir.path(), &["status", &id], &[("VIDGATE_URL", server.base.as_str())]);
    assert!(!no_key.status.success());

    assert!(server.terminate().success(), "SIGTERM ends serve cleanly");
}
