//! Go's printing of values in actions and in `print`/`printf`.

mod common;
use common::{r, rv};

#[test]
fn actions_print_values_as_go_does() {
    assert_eq!(
        rv(
            "{{ .Values.i }} {{ .Values.f }} {{ .Values.big }} {{ .Values.small }}",
            "i: 3\nf: 3.5\nbig: 1000000\nsmall: 0.00001"
        ),
        "3 3.5 1e+06 1e-05"
    );
    assert_eq!(rv("{{ .Values.num }}", "num: 123456789"), "1.23456789e+08");
    // YAML 1.1: `n` and `y` are booleans, as keys too.
    assert_eq!(
        rv("{{ .Values.false }} {{ .Values.v }}", "n: 1\nv: y"),
        "1 true"
    );
    assert_eq!(rv("{{ .Values.num }}", "num: 100000"), "100000");
    assert_eq!(
        rv("{{ .Values.m }}", "m: {b: 2, a: x, c: [1, two]}"),
        "map[a:x b:2 c:[1 two]]"
    );
    assert_eq!(
        rv("{{ .Values.l }}", "l: [a, null, true]"),
        "[a <nil> true]"
    );
    assert_eq!(
        rv("{{ .Values.e }}|{{ .Values.z }}", "e: {}\nz: []"),
        "map[]|[]"
    );
    assert_eq!(
        common::err("{{ nil }}", ""),
        "template: t:1:3: executing \"t\" at <nil>: nil is not a command"
    );
    assert_eq!(r("{{ 7 }} {{ -2.50 }} {{ 1e21 }}"), "7 -2.5 1e+21");
}

#[test]
fn print_and_println_space_like_go() {
    assert_eq!(r("{{ print \"a\" \"b\" }}"), "ab");
    assert_eq!(r("{{ print 1 2 }}"), "1 2");
    assert_eq!(r("{{ print \"a\" 1 2 \"b\" }}"), "a1 2b");
    assert_eq!(r("{{ println \"a\" 1 }}"), "a 1\n");
}

#[test]
fn printf_verbs() {
    assert_eq!(
        r(r#"{{ printf "%s|%d|%v|%q|%t" "s" 42 1.5 "q\"" true }}"#),
        "s|42|1.5|\"q\\\"\"|true"
    );
    assert_eq!(
        r(r#"{{ printf "%05d|%-5s|%5s|%x|%X|%o|%b|%c" 42 "ab" "cd" 255 255 8 5 65 }}"#),
        "00042|ab   |   cd|ff|FF|10|101|A"
    );
    assert_eq!(
        r(r#"{{ printf "%.2f|%8.3f|%e|%g|%G" 3.14159 2.5 1234.5678 0.000012 1e21 }}"#),
        "3.14|   2.500|1.234568e+03|1.2e-05|1E+21"
    );
    assert_eq!(
        r(r#"{{ printf "%+d|% d|%#x|%x" 5 5 255 "hi" }}"#),
        "+5| 5|0xff|6869"
    );
    assert_eq!(
        r(r#"{{ printf "%v %v" (list 1 "a") (dict "k" 2) }}"#),
        "[1 a] map[k:2]"
    );
    assert_eq!(r(r#"{{ printf "%d%%" 50 }}"#), "50%");
    assert_eq!(
        r(r#"{{ printf "%T %T %T %T %T" 1 1.5 "s" (list) (dict) }}"#),
        "int float64 string []interface {} map[string]interface {}"
    );
}

#[test]
fn printf_reports_bad_verbs_and_arguments_as_go_does() {
    assert_eq!(r(r#"{{ printf "%d" "x" }}"#), "%!d(string=x)");
    assert_eq!(r(r#"{{ printf "%s %s" "x" }}"#), "x %!s(MISSING)");
    assert_eq!(r(r#"{{ printf "%s" "x" 3 }}"#), "x%!(EXTRA int=3)");
    assert_eq!(r(r#"{{ printf "%s" 3 }}"#), "%!s(int=3)");
    assert_eq!(r(r#"{{ printf "%d" 2.5 }}"#), "%!d(float64=2.5)");
}

#[test]
fn html_js_and_urlquery_escape() {
    assert_eq!(
        r(r#"{{ html "<a href='x'>&\"" }}"#),
        "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"
    );
    assert_eq!(
        r(r#"{{ js "it's <b>\"x\"=y" }}"#),
        "it\\'s \\u003Cb\\u003E\\\"x\\\"\\u003Dy"
    );
    assert_eq!(r(r#"{{ urlquery "a b&c=d/é" }}"#), "a+b%26c%3Dd%2F%C3%A9");
    assert_eq!(r(r#"{{ html 1 2 }}"#), "1 2");
}

#[test]
fn comparisons_follow_go_rules() {
    assert_eq!(
        r("{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }} {{ eq \"a\" \"a\" }}"),
        "true true true true"
    );
    assert_eq!(
        r("{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1.5 0.5 }} {{ ge \"b\" \"a\" }}"),
        "true true true true"
    );
    assert_eq!(
        rv(
            "{{ eq .Values.x nil }} {{ eq .Values.missing \"a\" }}",
            "x: 1"
        ),
        "false false"
    );
    // Helm's numbers from YAML are floats: comparing with an integer constant fails.
    let e = common::err("{{ eq .Values.num 1 }}", "num: 1");
    assert_eq!(
        e,
        "template: t:1:3: executing \"t\" at <eq .Values.num 1>: error calling eq: incompatible types for comparison"
    );
    let e = common::err("{{ lt true false }}", "");
    assert_eq!(
        e,
        "template: t:1:3: executing \"t\" at <lt true false>: error calling lt: invalid type for comparison"
    );
    let e = common::err("{{ eq (list 1) (list 1) }}", "");
    assert_eq!(
        e,
        "template: t:1:3: executing \"t\" at <eq (list 1) (list 1)>: error calling eq: non-comparable type [1]: []interface {}"
    );
}

#[test]
fn len_index_and_slice() {
    assert_eq!(
        rv(
            "{{ len .Values.l }} {{ len \"héllo\" }} {{ len .Values.m }}",
            "l: [1, 2]\nm: {a: 1}"
        ),
        "2 6 1"
    );
    assert_eq!(
        rv(
            "{{ index .Values.l 1 }} {{ index .Values.m \"a\" \"b\" }} {{ index .Values.m \"zz\" }}",
            "l: [x, z]\nm: {a: {b: deep}}"
        ),
        "z deep <no value>"
    );
    assert_eq!(r("{{ index \"abc\" 1 }}"), "98");
    // Sprig's `slice` replaces Go's: lists only.
    assert_eq!(
        r("{{ slice (list 1 2 3 4) 1 3 }} {{ slice (list 1 2 3) 1 }}"),
        "[2 3] [2 3]"
    );
    assert_eq!(
        common::err("{{ slice \"hello\" 1 }}", ""),
        "template: t:1:3: executing \"t\" at <slice \"hello\" 1>: error calling slice: list should be type of slice or array but string"
    );
    assert_eq!(
        common::err("{{ index .Values.nope \"a\" }}", ""),
        "template: t:1:3: executing \"t\" at <index .Values.nope \"...>: error calling index: index of untyped nil"
    );
    assert_eq!(
        common::err("{{ index (list 1) 5 }}", ""),
        "template: t:1:3: executing \"t\" at <index (list 1) 5>: error calling index: index out of range: 5"
    );
    assert_eq!(
        common::err("{{ len 3 }}", ""),
        "template: t:1:3: executing \"t\" at <len 3>: error calling len: len of type int"
    );
}
