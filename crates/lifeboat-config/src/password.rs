//! [`PasswordSource`]: where a repository password comes from, and the one function that reads
//! it.

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

/// The environment variable that holds the repository password; it beats every other source in
/// [`PasswordSource::from_cli_and_env`].
pub const PASSWORD_ENV: &str = "LIFEBOAT_PASSWORD";

/// A secret written into the configuration file (an inline `password`, `secret_access_key` or
/// `session_token`). Its `Debug` form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a repository password comes from.
///
/// [`PasswordSource::read`] is the project's one password reader: the CLI builds a source with
/// [`PasswordSource::from_cli_and_env`], a configured repository names one with
/// [`crate::RepositoryConfig::password_source`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// The value of this environment variable, exactly as set.
    Env(String),
    /// The contents of this file, trailing newlines removed.
    File(PathBuf),
    /// The standard output of this command run with `sh -c`, trailing newlines removed. Its
    /// standard error goes to lifeboat's, so it can prompt or explain.
    Command(String),
    /// A password written into the configuration file.
    Inline(Secret),
}

/// Why a password could not be read. Each message names the variable, file or command and says
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The environment variable is not set.
    #[error("the environment variable {var} is not set: export it with the repository password, or configure password_file or password_command")]
    EnvNotSet {
        /// The variable.
        var: String,
    },
    /// The password file could not be read.
    #[error("cannot read the password file {}: {source}; check the path and that the user running lifeboat may read it (keep it mode 600)", path.display())]
    FileRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The password command could not be started.
    #[error("cannot run the password command `{command}` with sh -c: {source}")]
    CommandStart {
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The password command ran but failed.
    #[error("the password command `{command}` failed ({status}): run it by hand to see why; it must print the password and exit 0")]
    CommandFailed {
        /// The command.
        command: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// The source gave an empty password (after removing trailing newlines).
    #[error("the password from {what} is empty: put the repository password there")]
    Empty {
        /// The source, as [`PasswordSource`]'s `Display` describes it.
        what: String,
    },
}

impl fmt::Display for PasswordSource {
    /// Describes the source without revealing a password: `environment variable
    /// LIFEBOAT_PASSWORD`, `password file /etc/lifeboat/main.pass`, `password command `pass
    /// show lifeboat``, `inline password in the configuration file`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Env(var) => write!(f, "environment variable {var}"),
            PasswordSource::File(path) => write!(f, "password file {}", path.display()),
            PasswordSource::Command(cmd) => write!(f, "password command `{cmd}`"),
            PasswordSource::Inline(_) => f.write_str("inline password in the configuration file"),
        }
    }
}

impl PasswordSource {
    /// The source the command line asks for, with the CLI's precedence: the environment
    /// variable [`PASSWORD_ENV`] (`LIFEBOAT_PASSWORD`) when it is set, else `password_file`
    /// (`--password-file` / `LIFEBOAT_PASSWORD_FILE`), else `password_command`
    /// (`--password-command` / `LIFEBOAT_PASSWORD_COMMAND`). `None` when none is given; a
    /// configured repository's [`crate::RepositoryConfig::password_source`] applies then.
    pub fn from_cli_and_env(
        password_file: Option<PathBuf>,
        password_command: Option<String>,
    ) -> Option<PasswordSource> {
        Self::precedence(
            std::env::var_os(PASSWORD_ENV).is_some(),
            password_file,
            password_command,
        )
    }

    fn precedence(
        env_set: bool,
        password_file: Option<PathBuf>,
        password_command: Option<String>,
    ) -> Option<PasswordSource> {
        if env_set {
            Some(PasswordSource::Env(PASSWORD_ENV.to_string()))
        } else if let Some(file) = password_file {
            Some(PasswordSource::File(file))
        } else {
            password_command.map(PasswordSource::Command)
        }
    }

    /// Reads the password. A file's contents and a command's output lose their trailing `\n`
    /// and `\r` characters; an environment variable and an inline password are used exactly as
    /// given. An empty password is an error.
    pub fn read(&self) -> Result<Vec<u8>, PasswordError> {
        let password = match self {
            PasswordSource::Env(var) => match std::env::var_os(var) {
                Some(value) => os_bytes(value),
                None => return Err(PasswordError::EnvNotSet { var: var.clone() }),
            },
            PasswordSource::File(path) => {
                let bytes = std::fs::read(path).map_err(|source| PasswordError::FileRead {
                    path: path.clone(),
                    source,
                })?;
                trim_newlines(bytes)
            }
            PasswordSource::Command(command) => {
                let output = Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(Stdio::inherit())
                    .stderr(Stdio::inherit())
                    .output()
                    .map_err(|source| PasswordError::CommandStart {
                        command: command.clone(),
                        source,
                    })?;
                if !output.status.success() {
                    return Err(PasswordError::CommandFailed {
                        command: command.clone(),
                        status: output.status,
                    });
                }
                trim_newlines(output.stdout)
            }
            PasswordSource::Inline(secret) => secret.expose().as_bytes().to_vec(),
        };
        if password.is_empty() {
            return Err(PasswordError::Empty {
                what: self.to_string(),
            });
        }
        Ok(password)
    }
}

#[cfg(unix)]
fn os_bytes(value: std::ffi::OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    value.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(value: std::ffi::OsString) -> Vec<u8> {
    value.to_string_lossy().into_owned().into_bytes()
}

/// Removes trailing `\n` and `\r` characters.
pub(crate) fn trim_newlines(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        bytes.pop();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_loses_trailing_newlines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, b"  s3cret \r\n\n").unwrap();
        let source = PasswordSource::File(path.clone());
        assert_eq!(source.read().unwrap(), b"  s3cret ");
        assert_eq!(
            source.to_string(),
            format!("password file {}", path.display())
        );
    }

    #[test]
    fn missing_file_names_it() {
        let source = PasswordSource::File("/nonexistent/lifeboat.pass".into());
        let err = source.read().unwrap_err();
        assert!(matches!(err, PasswordError::FileRead { .. }));
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/lifeboat.pass"), "{msg}");
    }

    #[test]
    fn command_output_is_the_password() {
        let source = PasswordSource::Command("printf 'from command\\n'".into());
        assert_eq!(source.read().unwrap(), b"from command");
    }

    #[test]
    fn failing_command_reports_its_exit_status() {
        let source = PasswordSource::Command("echo oops; exit 3".into());
        let err = source.read().unwrap_err();
        match &err {
            PasswordError::CommandFailed { command, status } => {
                assert_eq!(command, "echo oops; exit 3");
                assert_eq!(status.code(), Some(3));
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("`echo oops; exit 3`"), "{msg}");
        assert!(msg.contains("exit status: 3"), "{msg}");
    }

    #[test]
    fn empty_command_output_is_refused() {
        let err = PasswordSource::Command("true".into()).read().unwrap_err();
        assert!(matches!(err, PasswordError::Empty { .. }), "{err:?}");
        assert!(err.to_string().contains("password command `true`"), "{err}");
    }

    #[test]
    fn env_is_used_exactly() {
        // A variable no other test touches.
        let var = "LIFEBOAT_CONFIG_TEST_PASSWORD_ENV_IS_USED";
        std::env::set_var(var, "env secret\n");
        let source = PasswordSource::Env(var.into());
        assert_eq!(source.read().unwrap(), b"env secret\n");
        std::env::remove_var(var);
        let err = source.read().unwrap_err();
        assert!(matches!(err, PasswordError::EnvNotSet { .. }));
        assert!(err.to_string().contains(var), "{err}");
    }

    #[test]
    fn inline_is_used_and_hidden() {
        let source = PasswordSource::Inline(Secret::new("inline"));
        assert_eq!(source.read().unwrap(), b"inline");
        assert!(!format!("{source:?}").contains("inline\""));
        assert!(!source.to_string().contains("inline\""));
    }

    #[test]
    fn cli_precedence_env_then_file_then_command() {
        let file = Some(PathBuf::from("/p"));
        let cmd = Some("c".to_string());
        assert_eq!(
            PasswordSource::precedence(true, file.clone(), cmd.clone()),
            Some(PasswordSource::Env(PASSWORD_ENV.into()))
        );
        assert_eq!(
            PasswordSource::precedence(false, file.clone(), cmd.clone()),
            Some(PasswordSource::File("/p".into()))
        );
        assert_eq!(
            PasswordSource::precedence(false, None, cmd),
            Some(PasswordSource::Command("c".into()))
        );
        assert_eq!(PasswordSource::precedence(false, None, None), None);
    }
}
