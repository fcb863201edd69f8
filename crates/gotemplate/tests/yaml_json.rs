//! Reading and writing YAML and JSON as Helm does (sigs.k8s.io/yaml over go-yaml v2,
//! and encoding/json).

use gotemplate::{Value, json, yaml};

fn to_yaml(src: &str) -> String {
    yaml::to_string(&yaml::from_str(src).unwrap())
}

#[test]
fn reading_resolves_yaml_1_1_scalars() {
    let v = yaml::from_str(
        "int: 42\noct: 0777\nhex: 0x1F\nund: 1_000\nflt: 1.5\nexp: 1e3\nyes: yes\noff: Off\nnul: ~\nempty:\nstr: '42'\nts: 2001-12-14\nbig: 12345678901234567890\n",
    )
    .unwrap();
    let m = v.as_map().unwrap();
    let f = |k: &str| match m.get(k) {
        Some(Value::Float(f)) => *f,
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(
        (f("int"), f("oct"), f("hex"), f("und"), f("flt"), f("exp")),
        (42.0, 511.0, 31.0, 1000.0, 1.5, 1000.0)
    );
    assert!(f("big") > 1.2e19);
    // `yes` and `off` as keys are booleans too, and become "true" and "false".
    assert!(matches!(m.get("true"), Some(Value::Bool(true))));
    assert!(matches!(m.get("false"), Some(Value::Bool(false))));
    assert!(matches!(m.get("nul"), Some(Value::Nil)));
    assert!(matches!(m.get("empty"), Some(Value::Nil)));
    assert_eq!(m.get("str").and_then(Value::as_str), Some("42"));
    // Timestamps stay strings.
    assert_eq!(m.get("ts").and_then(Value::as_str), Some("2001-12-14"));
}

#[test]
fn reading_anchors_merge_keys_and_documents() {
    let v = yaml::from_str("base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\nlist: &l [x]\nagain: *l\n---\nsecond: doc\n").unwrap();
    assert_eq!(
        json::to_string(&v),
        r#"{"again":["x"],"base":{"a":1,"b":2},"derived":{"a":1,"b":3},"list":["x"]}"#
    );
    assert!(yaml::from_str("").unwrap().is_nil());
    assert!(yaml::from_str("# only a comment\n").unwrap().is_nil());
}

#[test]
fn reading_reports_errors_with_a_line() {
    let e = yaml::from_str("a: b\nc: [1, 2\n").unwrap_err().to_string();
    assert!(
        e.starts_with("error converting YAML to JSON: yaml: line "),
        "{e}"
    );
}

#[test]
fn writing_quotes_strings_that_would_read_back_as_something_else() {
    let v = Value::map([
        ("bool", Value::str("true")),
        ("yes", Value::str("yes")),
        ("num", Value::str("123")),
        ("flt", Value::str("1.5")),
        ("oct", Value::str("08")),
        ("nul", Value::str("null")),
        ("tilde", Value::str("~")),
        ("empty", Value::str("")),
        ("date", Value::str("2024-01-02")),
        ("plain", Value::str("it's fine")),
        ("url", Value::str("http://x/y?a=b")),
        ("sexagesimal", Value::str("12:30")),
        ("addr", Value::str("0.0.0.0:4317")),
        ("stamp", Value::str("2024-1-2T03:04:05Z")),
        ("notdate", Value::str("2024-13-01")),
    ]);
    assert_eq!(
        yaml::to_string(&v),
        "addr: 0.0.0.0:4317\nbool: \"true\"\ndate: \"2024-01-02\"\nempty: \"\"\nflt: \"1.5\"\nnotdate: 2024-13-01\nnul: \"null\"\nnum: \"123\"\noct: \"08\"\nplain: it's fine\nsexagesimal: \"12:30\"\nstamp: \"2024-1-2T03:04:05Z\"\ntilde: \"~\"\nurl: http://x/y?a=b\n\"yes\": \"yes\"\n"
    );
}

#[test]
fn writing_uses_single_quotes_for_indicators_and_edge_spaces() {
    let v = Value::map([
        ("colon", Value::str("a: b")),
        ("dash", Value::str("- x")),
        ("hash", Value::str("#x")),
        ("comment", Value::str("x #y")),
        ("star", Value::str("*x")),
        ("lead", Value::str(" x")),
        ("trail", Value::str("x ")),
        ("quote", Value::str("'q'")),
        ("brace", Value::str("{a}")),
        ("end", Value::str("x:")),
    ]);
    assert_eq!(
        yaml::to_string(&v),
        "brace: '{a}'\ncolon: 'a: b'\ncomment: 'x #y'\ndash: '- x'\nend: 'x:'\nhash: '#x'\nlead: ' x'\nquote: '''q'''\nstar: '*x'\ntrail: 'x '\n"
    );
}

#[test]
fn writing_multiline_strings_as_literal_blocks() {
    let v = Value::map([
        ("clip", Value::str("a\nb\n")),
        ("strip", Value::str("a\nb")),
        ("keep", Value::str("a\n\n")),
        ("indented", Value::str("  a\nb")),
        ("tab", Value::str("a\tb\nc")),
        ("spacebreak", Value::str("a \nb")),
    ]);
    assert_eq!(
        yaml::to_string(&v),
        "clip: |\n  a\n  b\nindented: |2-\n    a\n  b\nkeep: |+\n  a\n\nspacebreak: \"a \\nb\"\nstrip: |-\n  a\n  b\ntab: \"a\\tb\\nc\"\n"
    );
}

#[test]
fn writing_collections_as_go_yaml_does() {
    assert_eq!(
        to_yaml("a: [1, 2]\nb: {c: {d: x}}\ne: []\nf: {}\n"),
        "a:\n- 1\n- 2\nb:\n  c:\n    d: x\ne: []\nf: {}\n"
    );
    assert_eq!(
        to_yaml("- a: 1\n  b: [x]\n- - 1\n  - 2\n- {}\n"),
        "- a: 1\n  b:\n  - x\n- - 1\n  - 2\n- {}\n"
    );
    assert_eq!(to_yaml("x"), "x\n");
    assert_eq!(yaml::to_string(&Value::str("a\nb")), "|-\n  a\n  b\n");
    assert_eq!(yaml::to_string(&Value::Nil), "null\n");
}

#[test]
fn writing_numbers_through_json() {
    let v = yaml::from_str("i: 3\nf: 3.0\nh: 0.5\nbig: 1e6\ntiny: 0.000001\nhuge: 1e21\nneg: -2\n")
        .unwrap();
    assert_eq!(
        yaml::to_string(&v),
        "big: 1000000\nf: 3\nh: 0.5\nhuge: 1e+21\ni: 3\nneg: -2\ntiny: 1e-06\n"
    );
    // A key that reads as a boolean is quoted.
    assert_eq!(
        yaml::to_string(&Value::map([("n", Value::Int(7))])),
        "\"n\": 7\n"
    );
}

#[test]
fn writing_sorts_keys_in_go_yaml_order() {
    let v = Value::map([
        ("a10", Value::Int(1)),
        ("a9", Value::Int(2)),
        ("B", Value::Int(3)),
        ("_x", Value::Int(4)),
        ("a", Value::Int(5)),
    ]);
    assert_eq!(yaml::to_string(&v), "_x: 4\nB: 3\na: 5\na9: 2\na10: 1\n");
}

#[test]
fn writing_folds_long_plain_strings_at_80_columns() {
    let long = "word ".repeat(20).trim_end().to_string();
    let out = yaml::to_string(&Value::map([("description", Value::str(long.clone()))]));
    assert_eq!(
        out,
        "description: word word word word word word word word word word word word word word\n  word word word word word word\n"
    );
    assert_eq!(
        yaml::from_str(&out).unwrap().as_map().unwrap()["description"].as_str(),
        Some(long.as_str())
    );
}

#[test]
fn json_reading_and_writing() {
    let v = json::from_str(r#"{"b": [1, 2.5, true, null], "a": "x<y"}"#).unwrap();
    assert_eq!(
        json::to_string(&v),
        r#"{"a":"x\u003cy","b":[1,2.5,true,null]}"#
    );
    assert!(json::from_str("{").is_err());
    assert_eq!(json::to_string(&Value::Float(1e-7)), "1e-7");
    assert_eq!(json::to_string(&Value::Float(123456789.0)), "123456789");
}

#[derive(Debug)]
struct Metadata;

impl gotemplate::Object for Metadata {
    fn type_name(&self) -> &str {
        "*chart.Metadata"
    }
    fn field(&self, name: &str) -> Option<Value> {
        (name == "Name").then(|| Value::str("web"))
    }
    fn method(&self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn json_value(&self) -> Option<Value> {
        Some(Value::map([
            ("name", Value::str("web")),
            ("apiVersion", Value::str("v2")),
        ]))
    }
}

#[test]
fn objects_encode_through_their_json_value() {
    let mut e = gotemplate::Engine::helm();
    e.parse(
        "t",
        "{{ .Chart.Name }} {{ toJson .Chart }}\n{{ toYaml .Chart }}",
    )
    .unwrap();
    let dot = Value::map([("Chart", Value::Object(std::rc::Rc::new(Metadata)))]);
    assert_eq!(
        e.execute("t", &dot).unwrap(),
        "web {\"apiVersion\":\"v2\",\"name\":\"web\"}\napiVersion: v2\nname: web"
    );
}

#[test]
fn writing_numbers_beyond_int64_and_root_blocks() {
    let v = yaml::from_str("u: 1e19\nw: 1e20\n").unwrap();
    assert_eq!(yaml::to_string(&v), "u: 10000000000000000000\nw: 1e+20\n");
    assert_eq!(yaml::to_string(&Value::str("a\nb")), "|-\n  a\n  b\n");
}

#[test]
fn reading_errors_are_worded_as_go_yaml_words_them() {
    // Helm's invalid-YAML test chart as rendered; Helm prints
    // `error converting YAML to JSON: yaml: line 11: could not find expected ':'`.
    let doc = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"release-name-\"\nspec:\n  containers:\n  - name: waiter\n    image: \"alpine:3.9\"\n    command: [\"/bin/sleep\",\"9000\"]\ninvalid\n";
    assert_eq!(
        yaml::from_str(doc).unwrap_err().to_string(),
        "error converting YAML to JSON: yaml: line 11: could not find expected ':'"
    );
    // The parser's own errors name the line before, as libyaml's parser does.
    let e = yaml::from_str("a:\n  - b\n c: d\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("error converting YAML to JSON: yaml: line "),
        "{e}"
    );
}

#[test]
fn double_quoted_strings_escape_only_what_libyaml_escapes() {
    // A tab forces double quotes and is escaped; a no-break space is printable and stays.
    let v = Value::map([("a", Value::str("x\ty\u{a0}z"))]);
    assert_eq!(yaml::to_string(&v), "a: \"x\\ty\u{a0}z\"\n");
}
