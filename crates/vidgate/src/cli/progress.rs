//! Progress display for the client commands (on stderr; stdout stays for results).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Queue position, then percent done.
pub struct Watch {
    bar: ProgressBar,
}

impl Watch {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("submitted");
        Watch { bar }
    }

    pub fn queued(&self, position: i64) {
        self.bar.set_message(if position == 0 {
            "queued: next in line".to_owned()
        } else {
            format!("queued: {position} ahead")
        });
        self.bar.tick();
    }

    pub fn progress(&self, percent: u64) {
        self.bar.set_style(
            ProgressStyle::with_template("generating [{bar:40}] {pos:>3}%")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.bar.set_position(percent.min(100));
    }

    pub fn done(&self, ok: bool) {
        if ok {
            self.bar.set_position(100);
        }
        self.bar.finish_and_clear();
        eprintln!("{}", if ok { "vidgate: completed" } else { "vidgate: completed with an error" });
    }

    pub fn abandon(&self) {
        self.bar.abandon();
    }
}

/// Bytes downloaded.
pub struct Download {
    bar: ProgressBar,
}

impl Download {
    pub fn new(len: Option<u64>) -> Self {
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("downloading [{bar:40}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Download { bar }
    }

    pub fn set(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
