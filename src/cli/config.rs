//! The `--config` file of `lantern capture`: TOML whose keys are the command's long options
//! (`interface = ["eth1"]`, `flush-interval = 60`, `no-promisc = true`). Values are turned into
//! those options and checked by the same parsers as the command line, so the file cannot mean
//! something the flags do not; an option given on the command line (or in its environment
//! variable) wins over the file. Unknown keys and bad values are refused with the file's name.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use std::ffi::OsString;
use std::path::Path;

/// Keys that cannot be set from the file.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// The command-line arguments that `path` adds to `capture` (the one named by `command`),
/// leaving out the options `given` already has from the command line or the environment.
pub fn arguments(
    path: &Path,
    command: &Command,
    given: &ArgMatches,
) -> Result<Vec<OsString>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or("").trim_end_matches(',');
        format!("{}: {first}: {}", path.display(), e.message())
    })?;
    let mut out = Vec::new();
    for (key, value) in &table {
        let fail = |why: &str| format!("{}: `{key}`: {why}", path.display());
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
            .filter(|a| !NOT_IN_FILE.contains(&a.get_id().as_str()))
            .ok_or_else(|| {
                fail("unknown setting (the settings are the long options of `lantern capture`)")
            })?;
        let id = arg.get_id().as_str();
        if matches!(
            given.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let flag = format!("--{key}");
        if !arg.get_action().takes_values() {
            match value {
                toml::Value::Boolean(true) => out.push(flag.into()),
                toml::Value::Boolean(false) => {}
                _ => return Err(fail("must be true or false")),
            }
            continue;
        }
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) if matches!(arg.get_action(), clap::ArgAction::Append) => {
                items.iter().collect()
            }
            toml::Value::Array(_) => return Err(fail("takes one value, not a list")),
            single => vec![single],
        };
        for value in values {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                _ => return Err(fail("must be a string or an integer")),
            };
            out.push(flag.clone().into());
            out.push(text.into());
        }
    }
    // The values go through clap's own parsers here, alone, so that a bad one is blamed on
    // the file rather than on the command line.
    let mut alone: Vec<OsString> = vec!["lantern".into()];
    alone.extend(out.iter().cloned());
    if let Err(e) = command
        .clone()
        .no_binary_name(false)
        .try_get_matches_from(alone)
    {
        let rendered = e.to_string();
        let line = rendered.lines().next().unwrap_or("invalid value");
        return Err(format!(
            "{}: {}",
            path.display(),
            line.trim_start_matches("error: ")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn capture() -> Command {
        crate::cli::Cli::command()
            .find_subcommand("capture")
            .expect("a capture command")
            .clone()
    }

    fn example() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/lantern.toml")
    }

    #[test]
    fn the_example_config_sets_every_option_of_the_command_line() {
        let text = std::fs::read_to_string(example()).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        // The example shows every option, most of them commented out with their default.
        let is_key = |k: &str| k.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.split_once(" = ").is_some_and(|(k, _)| is_key(k)) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let all: toml::Table = toml::from_str(&uncommented).unwrap();
        for arg in capture().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if NOT_IN_FILE.contains(&arg.get_id().as_str()) {
                continue;
            }
            assert!(all.contains_key(long), "dist/lantern.toml lacks `{long}`");
        }
        assert!(table.contains_key("interface"));
        let given = capture().get_matches_from(["capture"]);
        let args = arguments(&example(), &capture(), &given).unwrap();
        assert!(args.contains(&OsString::from("--interface")));
        // The example with everything uncommented parses too.
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full.toml");
        std::fs::write(&full, uncommented).unwrap();
        arguments(&full, &capture(), &given).unwrap();
    }

    #[test]
    fn bad_settings_are_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let given = capture().get_matches_from(["capture"]);
        for (text, expected) in [
            ("intreface = [\"eth0\"]\n", "`intreface`: unknown setting"),
            (
                "threads = \"two\"\n",
                "invalid value 'two' for '--threads <N>'",
            ),
            ("no-promisc = 1\n", "`no-promisc`: must be true or false"),
            ("snaplen = [1, 2]\n", "`snaplen`: takes one value"),
            ("config = \"x.toml\"\n", "`config`: unknown setting"),
            ("threads = \n", "lantern.toml: TOML parse error"),
            (
                "metrics = \"localhost\"\n",
                "invalid value 'localhost' for '--metrics <ADDR>'",
            ),
        ] {
            let path = dir.path().join("lantern.toml");
            std::fs::write(&path, text).unwrap();
            let error = arguments(&path, &capture(), &given).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(error.starts_with(&path.display().to_string()), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lantern.toml");
        std::fs::write(
            &path,
            "threads = 2\nflush-interval = 30\ninterface = [\"a\", \"b\"]\n",
        )
        .unwrap();
        let given = capture().get_matches_from(["capture", "--threads", "3", "-i", "c"]);
        let args = arguments(&path, &capture(), &given).unwrap();
        assert_eq!(args, ["--flush-interval", "30"].map(OsString::from));
    }
}
