//! Store behaviour that needs no root: naming by input hash, concurrent builds, listing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use umlvnf_image::{boot_args, ImageError, ImageInputs, ImageKind, ImageStore};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn image_name_follows_every_input() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::new(tmp.path().join("store"));
    let agent = script(tmp.path(), "agent", "echo one");
    let inputs = ImageInputs::new(&agent);
    let first = store.image_path(ImageKind::Minimal, &inputs).unwrap();
    assert_eq!(
        first,
        store.image_path(ImageKind::Minimal, &inputs).unwrap()
    );
    let name = first.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("minimal-") && name.ends_with(".img"),
        "{name}"
    );

    // A different agent binary.
    std::fs::write(&agent, "#!/bin/sh\necho two\n").unwrap();
    let changed_agent = store.image_path(ImageKind::Minimal, &inputs).unwrap();
    assert_ne!(first, changed_agent);

    // A different kernel binary reporting the same version.
    let kernel = script(tmp.path(), "linux", "echo 6.1.176");
    let other_kernel = ImageInputs {
        agent: agent.clone(),
        modules_from: Some(kernel),
    };
    let changed_kernel = store.image_path(ImageKind::Minimal, &other_kernel).unwrap();
    assert_ne!(changed_agent, changed_kernel);

    // Another kind.
    let debian = store.image_path(ImageKind::Debian, &inputs).unwrap();
    assert!(debian
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("debian-"));
    assert_ne!(debian, changed_agent);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::new(tmp.path().join("store"));
    let err = store
        .image_path(
            ImageKind::Minimal,
            &ImageInputs::new(tmp.path().join("no-agent")),
        )
        .unwrap_err();
    assert!(matches!(err, ImageError::Agent { .. }), "{err}");
    assert!(err.to_string().contains("umlvnf-agent"), "{err}");

    let agent = script(tmp.path(), "agent", "true");
    let kernel = script(tmp.path(), "linux", "echo not-a-version");
    let err = store
        .image_path(
            ImageKind::Minimal,
            &ImageInputs {
                agent: agent.clone(),
                modules_from: Some(kernel),
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("user-mode-linux"), "{err}");

    let kernel = script(tmp.path(), "linux9", "echo 9.9.9");
    let err = store
        .image_path(
            ImageKind::Minimal,
            &ImageInputs {
                agent,
                modules_from: Some(kernel),
            },
        )
        .unwrap_err();
    assert!(matches!(err, ImageError::Modules { .. }), "{err}");
    assert!(
        err.to_string().contains("/usr/lib/uml/modules/9.9.9"),
        "{err}"
    );

    assert!("bogus"
        .parse::<ImageKind>()
        .unwrap_err()
        .to_string()
        .contains("minimal"));
    assert_eq!("debian".parse::<ImageKind>().unwrap(), ImageKind::Debian);
    assert_eq!(ImageKind::Minimal.to_string(), "minimal");
}

#[test]
fn concurrent_ensure_builds_once_and_cache_is_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::new(tmp.path().join("store"));
    let agent = script(tmp.path(), "agent", "exec /bin/sh");
    let inputs = ImageInputs::new(&agent);
    let mkfs_runs = Mutex::new(0usize);
    let progress = |m: &str| {
        if m.contains("running mkfs.ext4") {
            *mkfs_runs.lock().unwrap() += 1;
        }
    };
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    store
                        .ensure(ImageKind::Minimal, &inputs, &progress)
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(paths.iter().all(|p| p == &paths[0]), "{paths:?}");
    assert_eq!(
        *mkfs_runs.lock().unwrap(),
        1,
        "the image was built more than once"
    );

    let meta = std::fs::metadata(&paths[0]).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o444);
    let mtime = meta.modified().unwrap();
    let t = Instant::now();
    let again = store
        .ensure(ImageKind::Minimal, &inputs, &progress)
        .unwrap();
    let cached = t.elapsed();
    eprintln!("cached ensure took {:.3} s", cached.as_secs_f64());
    assert_eq!(again, paths[0]);
    assert!(cached.as_secs_f64() < 2.0);
    assert_eq!(
        std::fs::metadata(&again).unwrap().modified().unwrap(),
        mtime
    );
    assert_eq!(*mkfs_runs.lock().unwrap(), 1);

    // No build leftovers; the listing shows exactly the image.
    let names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".build") || n.starts_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "leftovers: {names:?}");
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].path, again);
    assert_eq!(list[0].size, meta.len());

    // remove_stale keeps what it is told to keep and deletes the rest.
    assert!(store
        .remove_stale(std::slice::from_ref(&again))
        .unwrap()
        .is_empty());
    assert_eq!(store.remove_stale(&[]).unwrap(), vec![again.clone()]);
    assert!(!again.exists());
}

#[test]
fn boot_args_put_cow_first() {
    assert_eq!(
        boot_args(
            Path::new("/images/minimal-0011.img"),
            Path::new("/lab/r1.cow")
        ),
        "ubd0=/lab/r1.cow,/images/minimal-0011.img"
    );
}
