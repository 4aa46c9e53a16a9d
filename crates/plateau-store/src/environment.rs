//! Faults of the machine, not of a run: a full disk, a quota, a read-only or vanished mount,
//! an I/O error. A run that meets one has not failed; the sweep stops, says what to fix, and
//! resumes where it stopped once it is fixed.

use std::error::Error;
use std::io::ErrorKind;

use crate::StoreError;

/// A storage fault found in an error's chain, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentFault {
    /// The error as the OS reported it, with the path when it is known.
    pub cause: String,
    /// What the user should do, then: rerun the same command.
    pub fix: &'static str,
}

impl std::fmt::Display for EnvironmentFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\nfix: {}, then rerun the same command: finished runs are kept and the \
             interrupted ones resume from their last checkpoint",
            self.cause, self.fix
        )
    }
}

/// The first storage fault in `chain` (an error and its sources, outermost first), if any.
pub fn environment_fault<'a>(
    chain: impl IntoIterator<Item = &'a (dyn Error + 'static)>,
) -> Option<EnvironmentFault> {
    chain.into_iter().find_map(|error| {
        if let Some(store) = error.downcast_ref::<StoreError>() {
            return fix_for(&store.error).map(|fix| EnvironmentFault {
                cause: store.to_string(),
                fix,
            });
        }
        let io = error.downcast_ref::<std::io::Error>()?;
        fix_for(io).map(|fix| EnvironmentFault {
            cause: io.to_string(),
            fix,
        })
    })
}

/// What to do about an OS error that comes from the machine; `None` for every other error.
fn fix_for(error: &std::io::Error) -> Option<&'static str> {
    const EIO: i32 = 5;
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => Some(
            "free space on that file system (or raise the quota or file-size limit that \
             stopped it, or pass another --out)",
        ),
        ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied => {
            Some("make that folder writable again (or pass another --out)")
        }
        _ if error.raw_os_error() == Some(EIO) => {
            Some("the disk reported an I/O error; check it (`dmesg`) or pass another --out")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn storage_faults_are_found_in_a_chain_and_other_errors_are_not() {
        let full = StoreError::new(
            Path::new("runs/x/results.csv"),
            std::io::Error::from_raw_os_error(28),
        );
        let chain: Vec<&(dyn Error + 'static)> = vec![&full];
        let fault = environment_fault(chain).unwrap();
        assert!(fault.cause.starts_with("runs/x/results.csv: "), "{fault}");
        assert!(fault.to_string().contains("free space"), "{fault}");
        let read_only = std::io::Error::from_raw_os_error(30);
        assert!(fix_for(&read_only).unwrap().contains("writable"));
        assert!(fix_for(&std::io::Error::from_raw_os_error(5)).is_some());
        let missing = std::io::Error::from(ErrorKind::NotFound);
        let chain: Vec<&(dyn Error + 'static)> = vec![&missing];
        assert_eq!(environment_fault(chain), None);
    }
}
