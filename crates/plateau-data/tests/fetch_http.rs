//! The HTTP fetch path against a local server on 127.0.0.1 serving fixture files: success,
//! wrong checksum, truncated body and 404. Nothing half-written may be left in the cache.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread;

use plateau_data::cache::{DataRoots, md5_hex};
use plateau_data::fetch::{Source, download_verified, ensure, fetch_into};
use plateau_data::registry::{DatasetSpec, FileSpec, RawDataset};
use plateau_data::{DataError, ImageSet};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Serves `routes` (path → body) until the test ends. `/truncated/...` paths announce more
/// bytes than they send; unknown paths get 404.
fn serve(routes: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 2048];
            let n = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..n]);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            match routes.iter().find(|(p, _)| *p == path) {
                Some((p, body)) if p.starts_with("/truncated/") => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len() * 2
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body);
                }
                Some((_, body)) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body);
                }
                None => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    address
}

#[test]
fn download_checks_status_length_and_md5() {
    let body = gz(b"fixture content");
    let md5 = md5_hex(&body);
    let server = serve(vec![
        ("/good.gz".into(), body.clone()),
        ("/truncated/good.gz".into(), body.clone()),
    ]);
    assert_eq!(
        download_verified(&format!("{server}/good.gz"), &md5, false).unwrap(),
        body
    );

    let wrong = download_verified(
        &format!("{server}/good.gz"),
        "00000000000000000000000000000000",
        false,
    )
    .unwrap_err();
    assert!(wrong.contains("md5") && wrong.contains(&md5), "{wrong}");

    let truncated =
        download_verified(&format!("{server}/truncated/good.gz"), &md5, false).unwrap_err();
    assert!(truncated.contains("truncated/good.gz"), "{truncated}");

    let missing = download_verified(&format!("{server}/missing.gz"), &md5, false).unwrap_err();
    assert!(missing.contains("404"), "{missing}");
}

fn fixture_set(_: &Path) -> plateau_data::Result<RawDataset> {
    Ok(RawDataset {
        train: ImageSet::new(vec![0], vec![0], (1, 1, 1), vec!["a".into()])?,
        test: None,
    })
}

/// A dataset of two files served by `base`, with `md5` for each `.gz`.
fn fixture_spec(base: String, md5: Vec<String>, pinned: [&'static str; 2]) -> &'static DatasetSpec {
    let md5: &'static [&'static str] =
        Vec::leak(md5.into_iter().map(|m| &*String::leak(m)).collect());
    let sources = Vec::leak(vec![Source::HttpGzFiles {
        base: String::leak(base),
        md5,
    }]);
    let files = Vec::leak(vec![
        FileSpec {
            name: "a.bin",
            sha256: Some(pinned[0]),
        },
        FileSpec {
            name: "b.bin",
            sha256: Some(pinned[1]),
        },
    ]);
    Box::leak(Box::new(DatasetSpec {
        name: "fixture",
        description: "two files over HTTP",
        files,
        sources,
        system_dirs: &[],
        offline: false,
        load: fixture_set,
    }))
}

fn sha(bytes: &[u8]) -> &'static str {
    String::leak(plateau_data::cache::sha256_hex(bytes))
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn fetch_writes_a_verified_folder_or_nothing() {
    let (a, b) = (gz(b"first file"), gz(b"second file"));
    let server = serve(vec![
        ("/ok/a.bin.gz".into(), a.clone()),
        ("/ok/b.bin.gz".into(), b.clone()),
        ("/partial/a.bin.gz".into(), a.clone()),
    ]);
    let pinned = [sha(b"first file"), sha(b"second file")];
    let cache = tempfile::tempdir().unwrap();
    let roots = DataRoots::cache_only(cache.path());

    // Success: decompressed files, a manifest, and `ensure` now finds it without fetching.
    let spec = fixture_spec(
        format!("{server}/ok"),
        vec![md5_hex(&a), md5_hex(&b)],
        pinned,
    );
    let found = ensure(spec, &roots, false).unwrap();
    assert_eq!(found.dir, cache.path().join("fixture"));
    assert_eq!(
        std::fs::read(found.dir.join("b.bin")).unwrap(),
        b"second file"
    );
    assert!(
        plateau_data::fetch::verify(spec, &found.dir)
            .iter()
            .all(|c| c.ok)
    );
    assert_eq!(
        entries(cache.path()),
        vec!["fixture"],
        "no staging folder left"
    );

    // A file missing on the server (404): nothing appears in the cache, the error lists the attempt.
    let other = tempfile::tempdir().unwrap();
    let broken = fixture_spec(
        format!("{server}/partial"),
        vec![md5_hex(&a), md5_hex(&b)],
        pinned,
    );
    let error =
        fetch_into(broken, &other.path().join("fixture"), broken.sources, false).unwrap_err();
    let DataError::FetchFailed { attempts, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(attempts[0].contains("404"), "{attempts:?}");
    assert!(
        entries(other.path()).is_empty(),
        "left behind: {:?}",
        entries(other.path())
    );

    // Right download checksum but wrong pinned content checksum: refused, nothing written.
    let mismatched = fixture_spec(
        format!("{server}/ok"),
        vec![md5_hex(&a), md5_hex(&b)],
        [pinned[1], pinned[0]],
    );
    let error = fetch_into(
        mismatched,
        &other.path().join("fixture"),
        mismatched.sources,
        false,
    )
    .unwrap_err();
    assert!(error.to_string().contains("content sha256"), "{error}");
    assert!(entries(other.path()).is_empty());
}

#[test]
fn every_failed_source_is_listed_with_the_fix() {
    let cache = tempfile::tempdir().unwrap();
    let spec = fixture_spec(
        "http://127.0.0.1:9".into(),
        vec!["x".into(), "y".into()],
        ["0", "1"],
    );
    let error = ensure(spec, &DataRoots::cache_only(cache.path()), false)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("could not fetch dataset `fixture`"),
        "{error}"
    );
    assert!(
        error.contains("127.0.0.1:9")
            && error.contains("fix:")
            && error.contains("$PLATEAU_DATA/fixture/"),
        "{error}"
    );
}
