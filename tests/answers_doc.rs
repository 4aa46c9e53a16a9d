//! `docs/answers.md` works a target query through on a curve with a floor. This test runs the
//! page's commands through the real binary and fails when what they print and what the page
//! shows differ in anything but the digits of numbers (a bootstrap's last digits may differ across
//! machines); it also checks the answers the page's prose relies on.
//! `PLATEAU_BLESS=1 cargo test --release --test answers_doc` rewrites the page.

use std::path::Path;
use std::process::Command;

const CSV: &str = "docs/examples/vit-upstream.csv";

const SIZE_LAW: &[&str] = &[
    "fit", CSV, "--law", "size", "--points", "all", "--at", "1e17", "--target", "0.13", "--target",
    "0.1",
];
const AUTO: &[&str] = &[
    "fit", CSV, "--law", "auto", "--points", "all", "--target", "0.13",
];

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn page(size_law: &str, auto: &str) -> String {
    let command = |args: &[&str]| format!("plateau {}", args.join(" "));
    format!(
        "# A worked example: how much compute for a target error, and can it be reached?

This page is checked by `tests/answers_doc.rs`, which runs its commands and compares their
output with what is shown here (`PLATEAU_BLESS=1 cargo test --release --test answers_doc`
rewrites it).

`{CSV}` holds nine points of a ViT family's upstream error against its training FLOPs,
from 10¹² to 10¹⁶: made from the law `0.7·(C/10¹²)^(−0.32) + 0.11` with about 1 % noise, so the
answers below can be checked against the truth. Its `training` column marks the two largest runs
with 0: the fit does not see them, and reports how well it foresaw them. Your own curve goes in
the same form (`x,y`, plus `training` if you want a held-out check), or comes straight from a
sweep folder (`plateau fit runs/NAME --x train_flops`).

## The size law, asked two targets

```sh
{}
```

```text
{size_law}```

How to read it:

- The floor `c` is identified (no note under it): a curve without a floor fits clearly worse, and
  its interval is narrow next to the errors observed. The truth, 0.11, lies inside it.
- **Held out 2**: fitted on the seven smaller runs only, the curve foresaw the two largest within
  about 1 % (rms log error), both inside its 95 % band: the extrapolation earned some trust.
- **`--at 1e17`**: the error predicted at ten times the compute of the largest run, with the band of
  the resampled curves there.
- **Target 0.13**: reachable, at the training compute shown; the upper bound is unbounded
  because a few percent of the resampled curves level off above 0.13. That is the honest
  answer: the point estimate lies several times beyond the largest run, and the interval says
  how far it may be off.
- **Target 0.1**: below the fitted floor: **unreachable at any scale** of this family and this
  training recipe. The answer gives the floor and its interval instead of a number of FLOPs.
  What buys more than size, then, is a change of recipe or of data.

## Every law, judged on the held-out runs

```sh
{}
```

```text
{auto}```

`--law auto` fits the saturation, size and bent laws to the seven runs, checks each on the two it
did not see, and answers with the one whose held-out rms log error is lowest (on a tie, the
simpler). Here the bent law, which can bend towards an initial error as well as a floor, finds
no initial bend in these runs and reduces to the size law; the saturation law, which rises with
x, does not describe them at all.

## From a sweep: compute to a downstream target

With a sweep's results, `plateau fit runs/NAME --compute --task T --shots S --target Y` chains
the task's saturation law `e_DS(e_US)` with each family's size law `e_US(training FLOPs)`,
converts the FLOPs to device-hours at the throughput the sweep measured, and (with
`--usd-per-hour`, `--watts`, `--kg-co2-per-kwh`) to cost and energy. The sweep's report shows the
same for a few targets per family in its *What would it take?* section.
",
        command(SIZE_LAW),
        command(AUTO),
    )
}

/// The text with every run of digits replaced, so that only the words and layout compare.
fn masked(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for ch in text.chars() {
        let digit = ch.is_ascii_digit();
        if digit && !in_number {
            out.push('#');
        } else if !digit {
            out.push(ch);
        }
        in_number = digit;
    }
    out
}

#[test]
fn the_worked_example_shows_what_the_commands_print() {
    let size_law = run(SIZE_LAW);
    let auto = run(AUTO);
    // What the prose says of the answers.
    assert!(!size_law.contains("not identified"), "{size_law}");
    assert!(
        size_law.contains("held out 2") && size_law.contains("2 of 2 inside"),
        "{size_law}"
    );
    assert!(
        size_law.contains("target y = 0.1000: unreachable at any scale"),
        "{size_law}"
    );
    assert!(size_law.contains("target y = 0.1300: x = "), "{size_law}");
    assert!(
        auto.contains("laws by held-out rms log error: saturation"),
        "{auto}"
    );

    let expected = page(&size_law, &auto);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/answers.md");
    if std::env::var_os("PLATEAU_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let shown = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        masked(&shown),
        masked(&expected),
        "docs/answers.md is out of date; rerun with PLATEAU_BLESS=1"
    );
}
