//! Persistence at the store level: replay after compaction, deletes, CRDs and
//! resourceVersions.

use kube_sandbox::Store;
use kube_sandbox::store::{DeleteOpts, WriteCtx, rv_of};
use serde_json::json;

fn ctx() -> WriteCtx {
    WriteCtx {
        manager: "test".into(),
        ..Default::default()
    }
}

#[test]
fn replay_after_compactions_restores_objects_crds_and_versions() {
    let dir =
        std::env::temp_dir().join(format!("kube-sandbox-persist-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (names, last_rv) = {
        // A tiny threshold: the log is compacted many times on the way.
        let s = Store::open_with(1000, &dir, 8 * 1024).unwrap();
        assert!(s.is_persistent());
        let reg = s.registry();
        let cm = reg.find("", "v1", "configmaps").unwrap().clone();
        for i in 0..150 {
            let o = json!({"metadata": {"name": format!("c{i}")}, "data": {"i": i.to_string()}});
            s.create(&cm, "default", o, &ctx()).unwrap();
        }
        for i in (0..150).step_by(3) {
            s.delete(&cm, "default", &format!("c{i}"), &DeleteOpts::default())
                .unwrap();
        }
        let mut c5 = s.get(&cm, "default", "c5").unwrap();
        c5["data"]["i"] = json!("changed");
        s.update(&cm, "default", "c5", c5, &ctx()).unwrap();
        let crd_rt = reg
            .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .unwrap()
            .clone();
        let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"}, "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
        s.create(&crd_rt, "", crd, &ctx()).unwrap();
        let w = s
            .registry()
            .find("example.com", "v1", "widgets")
            .unwrap()
            .clone();
        s.create(
            &w,
            "default",
            json!({"metadata": {"name": "w1"}, "spec": {"size": 3}}),
            &ctx(),
        )
        .unwrap();
        let list = s.list(&cm, Some("default"), &Default::default()).unwrap();
        let names: Vec<String> = list
            .items
            .iter()
            .map(|o| format!("{}={}", o["metadata"]["name"], o["data"]["i"]))
            .collect();
        assert!(std::fs::metadata(dir.join("snapshot")).is_ok(), "compacted");
        (names, s.current_rv())
    };
    let s = Store::open(1000, &dir).unwrap();
    assert_eq!(s.current_rv(), last_rv);
    let reg = s.registry();
    let cm = reg.find("", "v1", "configmaps").unwrap();
    let list = s.list(cm, Some("default"), &Default::default()).unwrap();
    let replayed: Vec<String> = list
        .items
        .iter()
        .map(|o| format!("{}={}", o["metadata"]["name"], o["data"]["i"]))
        .collect();
    assert_eq!(replayed, names);
    assert_eq!(replayed.len(), 100);
    // The CRD's kind is served again, with its object.
    let w = reg
        .find("example.com", "v1", "widgets")
        .expect("widgets served");
    assert_eq!(s.get(w, "default", "w1").unwrap()["spec"]["size"], 3);
    // Built-in objects were not created twice; new versions continue above the old ones.
    let ns = reg.find("", "v1", "namespaces").unwrap();
    assert_eq!(
        s.get(ns, "", "default").unwrap()["status"]["phase"],
        "Active"
    );
    let o = s
        .create(cm, "default", json!({"metadata": {"name": "new"}}), &ctx())
        .unwrap();
    assert!(rv_of(&o) > last_rv);
    // A watch from before the restart is told to relist.
    assert_eq!(s.watch(cm, None, Some(1)).err().unwrap().code, 410);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Concurrent writers make their writes durable outside the store's lock; the changes
/// they announce must still arrive in resourceVersion order, every one of them, or a
/// watch (which skips what is older than its last event) would silently miss some.
#[test]
fn concurrent_writes_are_announced_in_resource_version_order() {
    for persistent in [false, true] {
        let dir = std::env::temp_dir().join(format!(
            "kube-sandbox-announce-order-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let s = std::sync::Arc::new(if persistent {
            Store::open(20_000, &dir).unwrap()
        } else {
            Store::new(20_000)
        });
        let cm = s.registry().find("", "v1", "configmaps").unwrap().clone();
        let mut rx = s.subscribe();
        let start = s.current_rv();
        let (threads, writes): (u64, u64) = (8, 150);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let (s, cm) = (std::sync::Arc::clone(&s), cm.clone());
                scope.spawn(move || {
                    for i in 0..writes {
                        let o = json!({"metadata": {"name": format!("t{t}-{i}")}});
                        s.create(&cm, "default", o, &ctx()).unwrap();
                    }
                });
            }
        });
        let mut seen = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            seen.push(ev.rv);
        }
        let expected: Vec<u64> = (start + 1..=start + threads * writes).collect();
        assert_eq!(seen, expected, "persistent: {persistent}");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
