//! plateau-store: the one home of plateau's crash safety. Every file that a kill, a power cut
//! or a full disk must not leave half-written goes through here:
//!
//! - [`write_atomic`]: a whole file replaced at once (temporary, fsync, rename, fsync the folder);
//! - [`StagedDir`]: a folder filled beside its target and swapped in whole (checkpoints, datasets);
//! - [`remove_stale_temporaries`]: what a killed writer left behind, removed on resume;
//! - [`Jsonl`]: append-only JSON lines whose torn last line is detected and cut;
//! - [`EventWriter`]: TensorBoard event files, cut to a resumed run's checkpoint before it appends.
//!
//! Errors name the path ([`StoreError`]) and keep the OS error's kind, so a caller can tell a
//! full disk from a bug ([`environment_fault`]).

mod atomic;
mod clock;
mod environment;
mod error;
mod events;
mod jsonl;
mod staged;

pub use atomic::{is_temporary, remove_stale_temporaries, sync_dir, write_atomic};
pub use clock::{unix_now, unix_seconds};
pub use environment::{EnvironmentFault, environment_fault};
pub use error::{Result, StoreError};
pub use events::{EventWriter, SESSION_END_TAG, SESSION_START_TAG, Scalar, read_scalars};
pub use jsonl::{Jsonl, Line};
pub use staged::{StagedDir, current_or_previous, remove_replaced};
