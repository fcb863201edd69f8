//! Tests of the store.

use super::*;

fn store() -> (Store, Registry) {
    let s = Store::new(1000);
    let r = s.registry();
    (s, r)
}

fn ctx() -> WriteCtx {
    WriteCtx {
        manager: "test".into(),
        ..Default::default()
    }
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
}

#[test]
fn builtin_namespaces_and_node_exist() {
    let (s, r) = store();
    let ns = r.find("", "v1", "namespaces").unwrap();
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(s.get(ns, "", n).unwrap()["status"]["phase"], "Active");
    }
    let node = s
        .get(r.find("", "v1", "nodes").unwrap(), "", "sandbox-node")
        .unwrap();
    assert_eq!(node["status"]["conditions"][0]["type"], "Ready");
}

#[test]
fn resource_versions_increase_and_stale_update_conflicts() {
    let (s, r) = store();
    let rt = r.find("", "v1", "configmaps").unwrap();
    let a = s.create(rt, "default", cm("a"), &ctx()).unwrap();
    let b = s.create(rt, "default", cm("b"), &ctx()).unwrap();
    assert!(rv_of(&b) > rv_of(&a));
    let mut changed = a.clone();
    changed["data"]["a"] = json!("2");
    let updated = s
        .update(rt, "default", "a", changed.clone(), &ctx())
        .unwrap();
    assert!(rv_of(&updated) > rv_of(&b));
    let err = s.update(rt, "default", "a", changed, &ctx()).unwrap_err();
    assert_eq!(err.reason, "Conflict");
    assert_eq!(
        s.create(rt, "default", cm("a"), &ctx()).unwrap_err().reason,
        "AlreadyExists"
    );
}

#[test]
fn generation_bumps_on_spec_change_only() {
    let (s, r) = store();
    let rt = r.find("apps", "v1", "deployments").unwrap();
    let d = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let d = s.create(rt, "default", d, &ctx()).unwrap();
    assert_eq!(d["metadata"]["generation"], 1);
    let mut labelled = d.clone();
    labelled["metadata"]["labels"] = json!({"x": "y"});
    let labelled = s.update(rt, "default", "d", labelled, &ctx()).unwrap();
    assert_eq!(labelled["metadata"]["generation"], 1);
    let mut scaled = labelled.clone();
    scaled["spec"]["replicas"] = json!(3);
    let scaled = s.update(rt, "default", "d", scaled, &ctx()).unwrap();
    assert_eq!(scaled["metadata"]["generation"], 2);
    let mut st = scaled.clone();
    st["status"] = json!({"replicas": 3});
    let status_ctx = WriteCtx {
        subresource: "status".into(),
        ..ctx()
    };
    let st = s.update(rt, "default", "d", st, &status_ctx).unwrap();
    assert_eq!(st["metadata"]["generation"], 2);
    assert_eq!(st["status"]["replicas"], 3);
    // Status is ignored on the main resource.
    let mut again = st.clone();
    again["status"] = json!({"replicas": 9});
    let again = s.update(rt, "default", "d", again, &ctx()).unwrap();
    assert_eq!(again["status"]["replicas"], 3);
}

#[test]
fn finalizers_keep_object_until_removed() {
    let (s, r) = store();
    let rt = r.find("", "v1", "configmaps").unwrap();
    let mut o = cm("f");
    o["metadata"]["finalizers"] = json!(["example.com/hold"]);
    s.create(rt, "default", o, &ctx()).unwrap();
    let d = s
        .delete(rt, "default", "f", &DeleteOpts::default())
        .unwrap();
    let Deleted::Terminating(t) = d else {
        panic!("expected terminating")
    };
    assert!(t["metadata"]["deletionTimestamp"].is_string());
    let mut cleared = s.get(rt, "default", "f").unwrap();
    cleared["metadata"]["finalizers"] = json!([]);
    s.update(rt, "default", "f", cleared, &ctx()).unwrap();
    assert_eq!(s.get(rt, "default", "f").unwrap_err().code, 404);
}

#[test]
fn owner_deletion_collects_dependents_unless_orphaned() {
    let (s, r) = store();
    let rt = r.find("", "v1", "configmaps").unwrap();
    let owner = s.create(rt, "default", cm("owner"), &ctx()).unwrap();
    let mut child = cm("child");
    child["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]);
    s.create(rt, "default", child.clone(), &ctx()).unwrap();
    s.delete(rt, "default", "owner", &DeleteOpts::default())
        .unwrap();
    assert_eq!(s.get(rt, "default", "child").unwrap_err().code, 404);

    let owner = s.create(rt, "default", cm("owner"), &ctx()).unwrap();
    child["metadata"]["ownerReferences"][0]["uid"] = owner["metadata"]["uid"].clone();
    s.create(rt, "default", child, &ctx()).unwrap();
    let opts = DeleteOpts {
        propagation: Some("Orphan".into()),
        ..Default::default()
    };
    s.delete(rt, "default", "owner", &opts).unwrap();
    assert_eq!(s.get(rt, "default", "owner").unwrap_err().code, 404);
    let kept = s.get(rt, "default", "child").unwrap();
    assert!(kept["metadata"].get("ownerReferences").is_none());
}

#[test]
fn foreground_deletion_waits_for_dependents_with_finalizers() {
    let (s, r) = store();
    let rt = r.find("", "v1", "configmaps").unwrap();
    let owner = s.create(rt, "default", cm("owner"), &ctx()).unwrap();
    let mut child = cm("child");
    child["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]);
    child["metadata"]["finalizers"] = json!(["hold"]);
    s.create(rt, "default", child, &ctx()).unwrap();
    let opts = DeleteOpts {
        propagation: Some("Foreground".into()),
        ..Default::default()
    };
    s.delete(rt, "default", "owner", &opts).unwrap();
    let o = s.get(rt, "default", "owner").unwrap();
    assert_eq!(o["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    let mut c = s.get(rt, "default", "child").unwrap();
    assert!(c["metadata"]["deletionTimestamp"].is_string());
    c["metadata"]["finalizers"] = json!([]);
    s.update(rt, "default", "child", c, &ctx()).unwrap();
    assert_eq!(s.get(rt, "default", "owner").unwrap_err().code, 404);
}

#[test]
fn namespace_deletion_removes_contents() {
    let (s, r) = store();
    let ns_rt = r.find("", "v1", "namespaces").unwrap();
    let rt = r.find("", "v1", "configmaps").unwrap();
    s.create(ns_rt, "", json!({"metadata": {"name": "team"}}), &ctx())
        .unwrap();
    s.create(rt, "team", cm("a"), &ctx()).unwrap();
    s.delete(ns_rt, "", "team", &DeleteOpts::default()).unwrap();
    assert_eq!(s.get(rt, "team", "a").unwrap_err().code, 404);
    assert_eq!(s.get(ns_rt, "", "team").unwrap_err().code, 404);
    assert_eq!(s.create(rt, "team", cm("b"), &ctx()).unwrap_err().code, 404);
}

#[test]
fn list_pages_with_limit_and_continue() {
    let (s, r) = store();
    let rt = r.find("", "v1", "configmaps").unwrap();
    for n in ["a", "b", "c"] {
        s.create(rt, "default", cm(n), &ctx()).unwrap();
    }
    let p1 = s
        .list(
            rt,
            Some("default"),
            &ListOpts {
                limit: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(p1.items.len(), 2);
    assert_eq!(p1.remaining, Some(1));
    let p2 = s
        .list(
            rt,
            Some("default"),
            &ListOpts {
                limit: Some(2),
                continue_token: p1.continue_token,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_eq!(str_at(&p2.items[0], "metadata.name"), "c");
    assert!(p2.continue_token.is_none());
}

#[test]
fn watch_window_expires_old_resource_versions() {
    let s = Store::new(16);
    let r = s.registry();
    let rt = r.find("", "v1", "configmaps").unwrap();
    let first = s.create(rt, "default", cm("x0"), &ctx()).unwrap();
    for i in 1..40 {
        s.create(rt, "default", cm(&format!("x{i}")), &ctx())
            .unwrap();
    }
    let err = s.watch(rt, None, Some(rv_of(&first))).err().unwrap();
    assert_eq!(err.code, 410);
    assert_eq!(err.reason, "Expired");
    let recent = s.current_rv() - 3;
    let w = s.watch(rt, None, Some(recent)).unwrap();
    assert_eq!(w.backlog.len(), 3);
    assert!(w.backlog.iter().all(|e| e.event_type == EventType::Added));
}

#[test]
fn dry_run_create_stores_nothing() {
    let (s, r) = store();
    let rt = r.find("", "v1", "configmaps").unwrap();
    let before = s.current_rv();
    let ctx = WriteCtx {
        dry_run: true,
        ..ctx()
    };
    let out = s.create(rt, "default", cm("dry"), &ctx).unwrap();
    assert_eq!(out["metadata"]["name"], "dry");
    assert_eq!(s.current_rv(), before);
    assert!(s.get(rt, "default", "dry").is_err());
}
