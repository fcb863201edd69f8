use gotemplate::{Engine, Value};

#[test]
fn hello() {
    let mut e = Engine::helm();
    e.parse(
        "t",
        "Hello {{ .name | upper }} {{ 1000000.0 }} {{ list 1 2 | toJson }}",
    )
    .unwrap();
    let dot = Value::map([("name", Value::str("world"))]);
    assert_eq!(e.execute("t", &dot).unwrap(), "Hello WORLD 1e+06 [1,2]");
}
