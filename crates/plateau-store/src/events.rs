//! TensorBoard event files: scalars as TensorBoard's own reader reads them, and the repair a
//! resumed run needs before it appends.
//!
//! The format (TensorFlow's `event.proto` and `summary.proto`, in TFRecord framing): each record
//! is `u64 length`, `masked crc32c(length)`, the bytes of one `Event`, `masked crc32c(bytes)`,
//! all little-endian; the first event of a file carries `file_version = "brain.Event:2"`.
//! `tensorboard-rs` is unmaintained (last release 2022, on an old protobuf), so the three
//! messages plateau writes are declared here for `prost`, with only the fields it uses, and no
//! `protoc` is needed at build time.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use prost::Message;

use crate::atomic::write_atomic;
use crate::clock::unix_now as now;

/// `tensorflow.Event`, the fields plateau writes.
#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(oneof = "What", tags = "3, 5")]
    what: Option<What>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum What {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`: a tag and a simple (scalar) value, or a plugin's data (the
/// hparams plugin's, with an empty tensor). `simple_value` is a member of a oneof in the
/// original, so it is written even when it is 0.
#[derive(Clone, PartialEq, prost::Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
    #[prost(message, optional, tag = "8")]
    tensor: Option<TensorProto>,
    #[prost(message, optional, tag = "9")]
    metadata: Option<SummaryMetadata>,
}

/// `tensorflow.TensorProto`, as the hparams plugin's empty float tensor: dtype and shape.
#[derive(Clone, PartialEq, prost::Message)]
struct TensorProto {
    #[prost(int32, tag = "1")]
    dtype: i32,
    #[prost(message, optional, tag = "2")]
    tensor_shape: Option<TensorShape>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorShape {
    #[prost(message, repeated, tag = "2")]
    dim: Vec<TensorDim>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorDim {
    #[prost(int64, tag = "1")]
    size: i64,
}

/// `tensorflow.SummaryMetadata`: which plugin a value belongs to, and its data.
#[derive(Clone, PartialEq, prost::Message)]
struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    plugin_data: Option<PluginData>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PluginData {
    #[prost(string, tag = "1")]
    plugin_name: String,
    #[prost(bytes = "vec", tag = "2")]
    content: Vec<u8>,
}

/// `tensorboard.hparams.HParamsPluginData`: a session's start (its hyper-parameters) or end.
#[derive(Clone, PartialEq, prost::Message)]
struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    version: i32,
    #[prost(oneof = "Session", tags = "3, 4")]
    data: Option<Session>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Session {
    #[prost(message, tag = "3")]
    Start(SessionStartInfo),
    #[prost(message, tag = "4")]
    End(SessionEndInfo),
}

#[derive(Clone, PartialEq, prost::Message)]
struct SessionStartInfo {
    #[prost(btree_map = "string, message", tag = "1")]
    hparams: std::collections::BTreeMap<String, ProtoValue>,
    #[prost(string, tag = "4")]
    group_name: String,
    #[prost(double, tag = "5")]
    start_time_secs: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SessionEndInfo {
    /// `tensorboard.hparams.Status`: 1 success, 2 failure.
    #[prost(int32, tag = "1")]
    status: i32,
    #[prost(double, tag = "2")]
    end_time_secs: f64,
}

/// `google.protobuf.Value`, the kinds a hyper-parameter takes.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoValue {
    #[prost(oneof = "Kind", tags = "2, 3, 4")]
    kind: Option<Kind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Kind {
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    Text(String),
    #[prost(bool, tag = "4")]
    Bool(bool),
}

/// The hparams plugin's tags (`tensorboard/plugins/hparams/metadata.py`).
const HPARAMS_PLUGIN: &str = "hparams";
pub const SESSION_START_TAG: &str = "_hparams_/session_start_info";
pub const SESSION_END_TAG: &str = "_hparams_/session_end_info";

/// One scalar of an event file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub tag: String,
    pub step: i64,
    pub value: f32,
}

/// TFRecord's checksum: crc32c, rotated and offset so that checksums of checksums stay strong.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn record(event: &Event) -> Vec<u8> {
    let data = event.encode_to_vec();
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(&data);
    out.extend_from_slice(&masked_crc(&data).to_le_bytes());
    out
}

/// The events of `bytes` up to the first record that is torn or fails its checksum, and how
/// many bytes they span.
fn intact_events(bytes: &[u8]) -> (Vec<Event>, usize) {
    let (mut events, mut at) = (Vec::new(), 0);
    while let Some(header) = bytes.get(at..at + 12) {
        let length_bytes = &header[..8];
        let length = u64::from_le_bytes(length_bytes.try_into().expect("8 bytes")) as usize;
        let length_crc = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if masked_crc(length_bytes) != length_crc {
            break;
        }
        let Some(data) = bytes.get(at + 12..at + 12 + length) else {
            break;
        };
        let Some(crc) = bytes.get(at + 12 + length..at + 16 + length) else {
            break;
        };
        if masked_crc(data) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            break;
        }
        let Ok(event) = Event::decode(data) else {
            break;
        };
        events.push(event);
        at += 16 + length;
    }
    (events, at)
}

/// Every intact scalar of the event file at `path`, in file order.
pub fn read_scalars(path: &Path) -> std::io::Result<Vec<Scalar>> {
    let (events, _) = intact_events(&std::fs::read(path)?);
    Ok(events
        .into_iter()
        .filter_map(|event| match event.what {
            Some(What::Summary(summary)) => Some((event.step, summary)),
            _ => None,
        })
        .flat_map(|(step, summary)| {
            summary.value.into_iter().filter_map(move |v| {
                Some(Scalar {
                    tag: v.tag,
                    step,
                    value: v.simple_value?,
                })
            })
        })
        .collect())
}

/// Appends scalars to one run's event file.
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// The event file in `dir` (made if missing). An existing file is first cut to what
    /// `keep` accepts of its intact values (a resumed run keeps what came before its
    /// checkpoint), through an atomic rewrite, so appending never duplicates a step. `keep` sees
    /// a plugin's value (hparams) as a scalar of its tag with the value NaN.
    pub fn open(dir: &Path, keep: impl Fn(&Scalar) -> bool) -> crate::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| crate::StoreError::new(dir, e))?;
        // One file per run, under a fixed name: a resume finds it (TensorBoard reads any file
        // whose name holds `tfevents`).
        let path = dir.join("events.out.tfevents.plateau");
        let fresh = || {
            record(&Event {
                wall_time: now(),
                step: 0,
                what: Some(What::FileVersion("brain.Event:2".into())),
            })
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => {
                let (events, _) = intact_events(&bytes);
                let mut kept = Vec::new();
                for mut event in events {
                    if let Some(What::Summary(summary)) = &mut event.what {
                        summary.value.retain(|v| {
                            keep(&Scalar {
                                tag: v.tag.clone(),
                                step: event.step,
                                value: v.simple_value.unwrap_or(f32::NAN),
                            })
                        });
                        if summary.value.is_empty() {
                            continue;
                        }
                    }
                    kept.extend(record(&event));
                }
                if kept.is_empty() { fresh() } else { kept }
            }
            Err(_) => fresh(),
        };
        write_atomic(&path, &bytes)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| crate::StoreError::new(&path, e))?;
        Ok(Self {
            path,
            file: BufWriter::new(file),
        })
    }

    /// Writes one scalar at `step` (buffered until [`flush`](Self::flush)).
    pub fn scalar(&mut self, tag: &str, step: i64, value: f64) -> crate::Result<()> {
        self.write(Event {
            wall_time: now(),
            step,
            what: Some(What::Summary(Summary {
                value: vec![SummaryValue {
                    tag: tag.to_string(),
                    simple_value: Some(value as f32),
                    ..Default::default()
                }],
            })),
        })
    }

    fn write(&mut self, event: Event) -> crate::Result<()> {
        self.file
            .write_all(&record(&event))
            .map_err(|e| crate::StoreError::new(&self.path, e))
    }

    /// The run's hyper-parameters for TensorBoard's hparams dashboard (a session start, at step
    /// 0), so runs can be filtered and compared by them. Numbers, text and booleans are kept as
    /// such; anything else as its JSON text.
    pub fn hparams(
        &mut self,
        group: &str,
        hparams: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> crate::Result<()> {
        let value = |v: &serde_json::Value| ProtoValue {
            kind: Some(match v {
                serde_json::Value::Number(n) => Kind::Number(n.as_f64().unwrap_or(f64::NAN)),
                serde_json::Value::Bool(b) => Kind::Bool(*b),
                serde_json::Value::String(s) => Kind::Text(s.clone()),
                other => Kind::Text(other.to_string()),
            }),
        };
        let start = SessionStartInfo {
            hparams: hparams.iter().map(|(k, v)| (k.clone(), value(v))).collect(),
            group_name: group.to_string(),
            start_time_secs: now(),
        };
        self.session(SESSION_START_TAG, 0, Session::Start(start))
    }

    /// Marks the run's session as ended at `step`, successfully or not.
    pub fn session_end(&mut self, step: i64, success: bool) -> crate::Result<()> {
        let end = SessionEndInfo {
            status: if success { 1 } else { 2 },
            end_time_secs: now(),
        };
        self.session(SESSION_END_TAG, step, Session::End(end))
    }

    fn session(&mut self, tag: &str, step: i64, data: Session) -> crate::Result<()> {
        let content = HParamsPluginData {
            version: 0,
            data: Some(data),
        };
        let value = SummaryValue {
            tag: tag.to_string(),
            simple_value: None,
            // DT_FLOAT, shape [0]: the plugin's placeholder tensor.
            tensor: Some(TensorProto {
                dtype: 1,
                tensor_shape: Some(TensorShape {
                    dim: vec![TensorDim { size: 0 }],
                }),
            }),
            metadata: Some(SummaryMetadata {
                plugin_data: Some(PluginData {
                    plugin_name: HPARAMS_PLUGIN.to_string(),
                    content: content.encode_to_vec(),
                }),
            }),
        };
        self.write(Event {
            wall_time: now(),
            step,
            what: Some(What::Summary(Summary { value: vec![value] })),
        })
    }

    /// Puts the buffered scalars on disk (and in the file system's hands).
    pub fn flush(&mut self) -> crate::Result<()> {
        self.file
            .flush()
            .and_then(|_| self.file.get_ref().sync_data())
            .map_err(|e| crate::StoreError::new(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_come_back_and_a_torn_tail_or_late_steps_are_cut_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::open(dir.path(), |_| true).unwrap();
        for step in 0..5 {
            writer
                .scalar("train/loss", step, 1.0 / (step + 1) as f64)
                .unwrap();
        }
        writer.scalar("val/accuracy", 4, 0.0).unwrap();
        writer.flush().unwrap();
        let path = writer.path().to_path_buf();
        drop(writer);
        let scalars = read_scalars(&path).unwrap();
        assert_eq!(scalars.len(), 6);
        assert_eq!(
            scalars[5],
            Scalar {
                tag: "val/accuracy".into(),
                step: 4,
                value: 0.0
            }
        );
        // A torn record at the end, as a kill leaves it.
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(
            &record(&Event {
                wall_time: 0.0,
                step: 9,
                what: None,
            })[..10],
        );
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_scalars(&path).unwrap().len(), 6);
        // Reopened as a resume from step 2: later steps and the torn tail are gone.
        let mut writer = EventWriter::open(dir.path(), |s| s.step <= 2).unwrap();
        writer.scalar("train/loss", 3, 0.5).unwrap();
        writer.flush().unwrap();
        let steps: Vec<i64> = read_scalars(&path)
            .unwrap()
            .iter()
            .map(|s| s.step)
            .collect();
        assert_eq!(steps, [0, 1, 2, 3]);
        assert!(std::fs::metadata(&path).unwrap().len() < whole as u64);
    }

    #[test]
    fn records_are_framed_and_checksummed_as_tfrecord() {
        // CRC-32C's check value, crc32c("123456789") = 0xe3069283, masked as TensorFlow's
        // `crc32c::Mask` does: ((c >> 15) | (c << 17)) + 0xa282ead8, worked out by hand.
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        let bytes = record(&Event {
            wall_time: 1.0,
            step: 7,
            what: None,
        });
        let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), length + 16);
        let (events, used) = intact_events(&bytes);
        assert_eq!((events.len(), used, events[0].step), (1, bytes.len(), 7));
    }
}
