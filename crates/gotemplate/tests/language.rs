//! The template language: actions, trimming, variables, control structures, templates.

mod common;
use common::{err, r, rv};

#[test]
fn text_and_actions() {
    assert_eq!(r("plain text"), "plain text");
    assert_eq!(r("a{{ \"b\" }}c"), "abc");
    assert_eq!(r("{{ `raw\\n` }}"), "raw\\n");
    assert_eq!(r("{{ \"esc\\t\\u00e9\" }}"), "esc\té");
    assert_eq!(r("{{ 'a' }}"), "97");
    assert_eq!(
        r("{{ 0x10 }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ -3 }} {{ +4 }}"),
        "16 15 15 1000 -3 4"
    );
    assert_eq!(r("{{ 1.5 }} {{ 1e3 }} {{ 0x1p4 }}"), "1.5 1000 16");
    assert_eq!(r("{{ true }} {{ false }}"), "true false");
}

#[test]
fn trim_markers_remove_adjacent_whitespace() {
    assert_eq!(r("a  \n {{- \"b\" -}} \n\t c"), "abc");
    assert_eq!(r("a {{- 1 }} b"), "a1 b");
    assert_eq!(r("a {{ 1 -}} b"), "a 1b");
    // `{{-3}}` is the number -3, not a trim marker.
    assert_eq!(r("a {{-3}} b"), "a -3 b");
    assert_eq!(r("x\n{{- /* a comment */ -}}\ny"), "xy");
    assert_eq!(r("x{{/* comment */}}y"), "xy");
}

#[test]
fn comments_must_end_at_the_delimiter() {
    assert_eq!(
        err("{{/* c */ 1}}", ""),
        "template: t:1: comment ends before closing delimiter"
    );
    assert_eq!(err("{{/* c ", ""), "template: t:1: unclosed comment");
}

#[test]
fn pipelines_pass_the_value_as_last_argument() {
    assert_eq!(r("{{ \"abc\" | upper | repeat 2 }}"), "ABCABC");
    assert_eq!(r("{{ (print 1 2) | len }}"), "3");
    assert_eq!(r("{{ printf \"%s-%s\" \"a\" (\"b\" | upper) }}"), "a-B");
}

#[test]
fn variables_declare_assign_and_scope() {
    assert_eq!(r("{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}"), "12");
    // A variable declared inside a block ends with it; an assignment reaches outside.
    assert_eq!(
        r("{{ $x := 1 }}{{ if true }}{{ $x := 5 }}{{ $x }}{{ end }}{{ $x }}"),
        "51"
    );
    assert_eq!(
        r("{{ $x := 1 }}{{ if true }}{{ $x = 5 }}{{ end }}{{ $x }}"),
        "5"
    );
    assert_eq!(
        rv(
            "{{ range .Values.l }}{{ $.Values.name }}{{ . }}{{ end }}",
            "l: [1, 2]\nname: nm"
        ),
        "nm1nm2"
    );
    assert_eq!(
        err("{{ $y }}", ""),
        "template: t:1: undefined variable \"$y\""
    );
    assert_eq!(
        err("{{ if true }}{{ $z := 1 }}{{ end }}{{ $z }}", ""),
        "template: t:1: undefined variable \"$z\""
    );
}

#[test]
fn if_else_if_else() {
    let t =
        "{{ if eq .Values.num 1.0 }}one{{ else if eq .Values.num 2.0 }}two{{ else }}many{{ end }}";
    assert_eq!(rv(t, "num: 1"), "one");
    assert_eq!(rv(t, "num: 2"), "two");
    assert_eq!(rv(t, "num: 3"), "many");
    // Truth: empty strings, zero, nil, empty lists and maps are false.
    for falsy in [
        "x: \"\"", "x: 0", "x: null", "x: []", "x: {}", "x: false", "y: 1",
    ] {
        assert_eq!(
            rv("{{ if .Values.x }}T{{ else }}F{{ end }}", falsy),
            "F",
            "{falsy}"
        );
    }
    for truthy in ["x: a", "x: 1", "x: [0]", "x: {a: 1}", "x: true", "x: 0.5"] {
        assert_eq!(
            rv("{{ if .Values.x }}T{{ else }}F{{ end }}", truthy),
            "T",
            "{truthy}"
        );
    }
}

#[test]
fn with_sets_dot_and_has_else_with() {
    assert_eq!(
        rv("{{ with .Values.a }}{{ .b }}{{ end }}", "a: {b: 7}"),
        "7"
    );
    assert_eq!(
        rv("{{ with .Values.a }}{{ .b }}{{ else }}none{{ end }}", "{}"),
        "none"
    );
    assert_eq!(
        rv(
            "{{ with .Values.a }}a{{ else with .Values.b }}{{ . }}{{ end }}",
            "b: bee"
        ),
        "bee"
    );
    assert_eq!(
        rv("{{ with $v := .Values.a }}{{ $v }}{{ end }}", "a: x"),
        "x"
    );
}

#[test]
fn range_over_lists_maps_and_integers() {
    assert_eq!(
        rv("{{ range .Values.l }}[{{ . }}]{{ end }}", "l: [a, b]"),
        "[a][b]"
    );
    assert_eq!(
        rv(
            "{{ range $i, $v := .Values.l }}{{ $i }}={{ $v }};{{ end }}",
            "l: [a, b]"
        ),
        "0=a;1=b;"
    );
    // Maps range in sorted key order.
    assert_eq!(
        rv(
            "{{ range $k, $v := .Values.m }}{{ $k }}:{{ $v }} {{ end }}",
            "m: {b: 2, a: 1, c: 3}"
        ),
        "a:1 b:2 c:3 "
    );
    assert_eq!(
        rv(
            "{{ range $v := .Values.m }}{{ $v }}{{ end }}",
            "m: {b: 2, a: 1}"
        ),
        "12"
    );
    assert_eq!(r("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        rv("{{ range .Values.l }}x{{ else }}empty{{ end }}", "l: []"),
        "empty"
    );
    assert_eq!(
        rv("{{ range .Values.missing }}x{{ else }}empty{{ end }}", "{}"),
        "empty"
    );
    assert_eq!(
        r(
            "{{ range $i, $e := until 5 }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ $e }}{{ end }}"
        ),
        "02"
    );
    assert_eq!(
        err("{{ break }}", ""),
        "template: t:1: {{break}} outside {{range}}"
    );
    assert_eq!(
        err("{{ range 1.5 }}{{ end }}", ""),
        "template: t:1:9: executing \"t\" at <1.5>: range can't iterate over 1.5"
    );
}

#[test]
fn range_variables_are_fresh_each_iteration() {
    assert_eq!(
        r("{{ $x := 0 }}{{ range until 3 }}{{ $x = . }}{{ end }}{{ $x }}"),
        "2"
    );
    assert_eq!(
        r("{{ range $i, $_ := list 1 2 }}{{ $y := $i }}{{ $y }}{{ end }}"),
        "01"
    );
}

#[test]
fn define_template_and_block() {
    let t = "{{ define \"x\" }}<{{ . }}>{{ end }}{{ template \"x\" \"a\" }}{{ template \"x\" }}";
    assert_eq!(r(t), "<a><<no value>>");
    assert_eq!(r("{{ block \"b\" \"v\" }}[{{ . }}]{{ end }}"), "[v]");
    assert_eq!(
        err("{{ template \"nope\" }}", ""),
        "template: t:1:12: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined"
    );
}

#[test]
fn include_renders_a_define_to_a_string() {
    let t = "{{ define \"lbl\" }}app: {{ .name }}{{ end }}labels:\n{{ include \"lbl\" .Values | indent 2 }}";
    assert_eq!(rv(t, "name: web"), "labels:\n  app: web");
    let e = err("{{ include \"missing\" . }}", "");
    assert_eq!(
        e,
        "template: t:1:3: executing \"t\" at <include \"missing\" .>: error calling include: template: no template \"missing\" associated with template \"gotpl\""
    );
}

#[test]
fn tpl_renders_a_string_with_the_set() {
    let t = "{{ define \"d\" }}D{{ end }}{{ tpl .Values.s . }}";
    assert_eq!(
        rv(
            t,
            "s: '{{ .Release.Name }}-{{ include \"d\" . }}-{{ .Values.missing }}'"
        ),
        "rel-D-"
    );
    // Defines in the string are visible to include inside it, and replace those of the set.
    assert_eq!(
        r(
            "{{ define \"d\" }}old{{ end }}{{ tpl \"{{ define \\\"d\\\" }}new{{ end }}{{ include \\\"d\\\" . }}\" . }}|{{ include \"d\" . }}"
        ),
        "new|old"
    );
    // The string is the set's root template, `gotpl`, as in Helm.
    let e = err("{{ tpl .Values.s . }}", "s: '{{ .Values.a.b }}'");
    assert_eq!(
        e,
        "template: t:1:3: executing \"t\" at <tpl .Values.s .>: error calling tpl: error during tpl function execution for \"{{ .Values.a.b }}\": template: gotpl:1:10: executing \"gotpl\" at <.Values.a.b>: nil pointer evaluating interface {}.b"
    );
    let e = err("{{ tpl \"{{ if }}\" . }}", "");
    assert!(e.ends_with("error calling tpl: cannot parse template \"{{ if }}\": template: gotpl:1: missing value for if"), "{e}");
    // Any value can be the dot.
    assert_eq!(r("{{ tpl \"{{ . }}\" 5 }}"), "5");
}

#[test]
fn and_or_short_circuit() {
    assert_eq!(r("{{ and 1 0 (fail \"not evaluated\") }}"), "0");
    assert_eq!(r("{{ or 0 \"x\" (fail \"not evaluated\") }}"), "x");
    assert_eq!(r("{{ and 1 2 }} {{ or 0 \"\" }}"), "2 ");
    assert_eq!(r("{{ not 0 }} {{ not \"a\" }}"), "true false");
}

#[test]
fn fields_of_maps_and_missing_keys() {
    assert_eq!(rv("{{ .Values.a.b.c }}", "a: {b: {c: deep}}"), "deep");
    // Helm's missingkey=zero: a missing key prints `<no value>`; a field of it fails.
    assert_eq!(rv("{{ .Values.nope }}", "{}"), "<no value>");
    assert_eq!(
        err("x\n  {{ .Values.x.y }}", "{}"),
        "template: t:2:12: executing \"t\" at <.Values.x.y>: nil pointer evaluating interface {}.y"
    );
    // A field of a string is an error.
    assert_eq!(
        err("{{ .Values.s.x }}", "s: str"),
        "template: t:1:10: executing \"t\" at <.Values.s.x>: can't evaluate field x in type string"
    );
    // The result of a pipeline is a nil value, whose fields are empty.
    assert_eq!(rv("{{ (.Values.nope).x }}", "{}"), "<no value>");
}

#[test]
fn parse_errors_name_the_line() {
    assert_eq!(err("{{ if true }}", ""), "template: t:1: unexpected EOF");
    assert_eq!(err("a\n{{ end }}", ""), "template: t:2: unexpected {{end}}");
    assert_eq!(
        err("{{ nofunc 1 }}", ""),
        "template: t:1: function \"nofunc\" not defined"
    );
    assert_eq!(err("\n\n{{ .x ", ""), "template: t:3: unclosed action");
    assert_eq!(
        err("{{ if }}{{ end }}", ""),
        "template: t:1: missing value for if"
    );
    assert_eq!(
        err("{{ 1 | 2 }}", ""),
        "template: t:1: non executable command in pipeline stage 2"
    );
}

#[test]
fn wrong_argument_types_are_reported_before_the_call() {
    assert_eq!(
        err("{{ upper 5 }}", ""),
        "template: t:1:9: executing \"t\" at <5>: expected string; found 5"
    );
    assert_eq!(
        err("{{ upper .Values.num }}", "num: 5"),
        "template: t:1:16: executing \"t\" at <.Values.num>: wrong type for value; expected string; got float64"
    );
    assert_eq!(
        err("{{ trunc .Values.num \"abc\" }}", "num: 2"),
        "template: t:1:16: executing \"t\" at <.Values.num>: wrong type for value; expected int; got float64"
    );
    assert_eq!(
        err("{{ upper \"a\" \"b\" }}", ""),
        "template: t:1:3: executing \"t\" at <upper>: wrong number of args for upper: want 1 got 2"
    );
}

#[test]
fn function_errors_carry_the_command() {
    assert_eq!(
        err("{{ fail \"boom\" }}", ""),
        // Helm marks `fail` messages as it marks `required`'s.
        "template: t:1:3: executing \"t\" at <fail \"boom\">: error calling fail: HELM_ERR_STARTboomHELM_ERR_END"
    );
    assert_eq!(
        err("{{ required \"x is required\" .Values.x }}", ""),
        "template: t:1:3: executing \"t\" at <required \"x is requi...>: error calling required: HELM_ERR_STARTx is requiredHELM_ERR_END"
    );
}

#[test]
fn parsing_adds_defines_to_the_set_and_keeps_nonempty_ones() {
    let mut e = gotemplate::Engine::helm();
    e.parse("a", "{{ define \"x\" }}first{{ end }}").unwrap();
    e.parse("b", "{{ define \"x\" }}   {{ end }}{{ template \"x\" }}")
        .unwrap();
    assert_eq!(e.execute("b", &gotemplate::Value::Nil).unwrap(), "first");
    e.parse("c", "{{ define \"x\" }}second{{ end }}").unwrap();
    assert_eq!(e.execute("b", &gotemplate::Value::Nil).unwrap(), "second");
    assert!(e.has_template("x") && e.has_template("a"));
    assert_eq!(
        e.execute("zzz", &gotemplate::Value::Nil)
            .unwrap_err()
            .to_string(),
        "template: no template \"zzz\" associated with template \"gotpl\""
    );
}

#[test]
fn maps_are_shared_like_go_maps() {
    // `set` on a map changes it for every holder, as in Go.
    assert_eq!(
        r("{{ $d := dict \"a\" 1 }}{{ $e := $d }}{{ $_ := set $e \"b\" 2 }}{{ $d }}"),
        "map[a:1 b:2]"
    );
    assert_eq!(
        rv("{{ $_ := set .Values \"x\" \"y\" }}{{ .Values.x }}", "{}"),
        "y"
    );
    // deepCopy breaks the sharing.
    assert_eq!(
        r("{{ $d := dict \"a\" 1 }}{{ $e := deepCopy $d }}{{ $_ := set $e \"b\" 2 }}{{ $d }}"),
        "map[a:1]"
    );
}

#[test]
fn a_shared_dot_keeps_changes_between_executions() {
    let mut e = gotemplate::Engine::helm();
    e.parse("a", "{{ $_ := set .Values \"seen\" true }}")
        .unwrap();
    e.parse("b", "{{ .Values.seen }}").unwrap();
    let dot = gotemplate::Dot::new(&gotemplate::Value::map([(
        "Values",
        gotemplate::Value::map::<String>([]),
    )]));
    e.execute_dot("a", &dot).unwrap();
    assert_eq!(e.execute_dot("b", &dot).unwrap(), "true");
    e.parse("c", "{{ .Template.Name }} {{ .Values.seen }}")
        .unwrap();
    dot.set(
        "Template",
        &gotemplate::Value::map([("Name", gotemplate::Value::str("c"))]),
    );
    assert_eq!(e.execute_dot("c", &dot).unwrap(), "c true");
    assert!(matches!(&dot.value(), gotemplate::Value::Map(m) if m.contains_key("Template")));
}

#[test]
fn missing_key_modes() {
    use gotemplate::{Engine, MissingKey, Value};
    let dot = Value::map([("m", Value::map::<String>([]))]);
    let mut e = Engine::helm();
    e.parse("t", "{{ .m.x }}").unwrap();
    e.set_missing_key(MissingKey::Error);
    assert_eq!(
        e.execute("t", &dot).unwrap_err().to_string(),
        "template: t:1:5: executing \"t\" at <.m.x>: map has no entry for key \"x\""
    );
    e.set_missing_key(MissingKey::Default);
    let mut e2 = e.clone();
    e2.parse("u", "{{ .m.x.y }}").unwrap();
    assert_eq!(e2.execute("u", &dot).unwrap(), "<no value>");
}

#[test]
fn lookup_uses_the_callback_or_gives_an_empty_map() {
    use gotemplate::{Engine, Value};
    let mut e = Engine::helm();
    e.parse("t", "{{ lookup \"v1\" \"Secret\" \"ns\" \"s\" | len }}|{{ (lookup \"v1\" \"Secret\" \"ns\" \"s\").kind }}").unwrap();
    assert_eq!(e.execute("t", &Value::Nil).unwrap(), "0|<no value>");
    e.set_lookup(Box::new(|api, kind, ns, name| {
        Ok(Value::map([(
            "kind",
            Value::str(format!("{api}/{kind}/{ns}/{name}")),
        )]))
    }));
    assert_eq!(e.execute("t", &Value::Nil).unwrap(), "1|v1/Secret/ns/s");
}

#[test]
fn a_bad_final_argument_is_reported_at_the_function() {
    // As in Helm's invalid-template-expr test chart.
    let src = "spec:\n  containers:\n  - name: {{ .Values.nonExistentKey | b64enc }}\n";
    assert_eq!(
        err(src, "{}"),
        "template: t:3:38: executing \"t\" at <b64enc>: invalid value; expected string"
    );
}

#[test]
fn include_recursion_stops_at_helm_limit() {
    let e = err(
        "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}{{ include \"loop\" . }}",
        "",
    );
    // Helm stops after 1,000 nested includes of one name; this engine may stop earlier,
    // before the stack runs out, with its own message.
    assert!(
        e.contains(
            "rendering template has a nested reference name: loop: unable to execute template"
        ) || e.contains("templates nested too deeply"),
        "{e}"
    );
}

#[test]
fn helm_cleans_up_required_and_parse_errors() {
    let mut e = gotemplate::Engine::helm();
    e.parse(
        "c/templates/x.yaml",
        "a: {{ required \"a value is required\" .a }}",
    )
    .unwrap();
    let err = e
        .execute("c/templates/x.yaml", &gotemplate::Value::map::<String>([]))
        .unwrap_err();
    assert_eq!(
        err.helm_exec_message(),
        "execution error at (c/templates/x.yaml:1:6): a value is required"
    );
    e.parse("c/templates/y.yaml", "{{ fail \"no\" }}").unwrap();
    let err = e
        .execute("c/templates/y.yaml", &gotemplate::Value::Nil)
        .unwrap_err();
    assert_eq!(
        err.helm_exec_message(),
        "execution error at (c/templates/y.yaml:1:3): no"
    );
    e.parse("c/templates/w.yaml", "{{ index .x 1 }}").unwrap();
    let err = e
        .execute("c/templates/w.yaml", &gotemplate::Value::Nil)
        .unwrap_err();
    assert_eq!(
        err.helm_exec_message(),
        "template: c/templates/w.yaml:1:3: executing \"c/templates/w.yaml\" at <index .x 1>: error calling index: index of untyped nil"
    );
    let perr = e.parse("c/templates/z.yaml", "\n{{ if }}").unwrap_err();
    assert_eq!(
        perr.helm_parse_message("c/templates/z.yaml"),
        "parse error at (c/templates/z.yaml:2): missing value for if"
    );
    assert_eq!((perr.line, perr.col), (2, None));
}

#[test]
fn parse_errors_name_tokens_as_go_does() {
    assert_eq!(
        err("{{ template foo }}", ""),
        "template: t:1: unexpected \"foo\" in template clause"
    );
    assert_eq!(
        err("{{ if true }}{{ define \"y\" }}{{ end }}{{ end }}", ""),
        "template: t:1: unexpected <define> in command"
    );
    // A comment must follow the delimiter (and trim marker) directly.
    assert_eq!(
        err("{{ /* c */ }}", ""),
        "template: t:1: unrecognized character in action: U+002F '/'"
    );
}

#[test]
fn one_source_defines_a_name_once() {
    assert_eq!(
        err(
            "{{ define \"x\" }}a{{ end }}\n{{ define \"x\" }}b{{ end }}",
            ""
        ),
        "template: t:2: template: multiple definition of template \"x\""
    );
    // An empty definition does not count.
    assert_eq!(
        r("{{ define \"x\" }} {{ end }}{{ define \"x\" }}b{{ end }}{{ template \"x\" }}"),
        "b"
    );
}

#[test]
fn else_errors_read_as_go_prints_them() {
    assert_eq!(
        err("{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}", ""),
        "template: t:1: expected end; found {{else}}"
    );
    assert_eq!(
        err("{{ with 1 }}a{{ else if 2 }}b{{ end }}", ""),
        "template: t:1: unexpected <if> in input"
    );
}
