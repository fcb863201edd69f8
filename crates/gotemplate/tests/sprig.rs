//! Sprig's functions as Helm registers them, each against Sprig's documented output.

mod common;
use common::{err, r, rv};

/// Checks each template renders to its expected output.
fn table(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (t, want) in cases {
        match common::render_values(t, "{}") {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{t}\n   want {want:?}\n    got {got:?}")),
            Err(e) => failures.push(format!("{t}\n   want {want:?}\n  error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn strings() {
    table(&[
        (r#"{{ trim "  a b  " }}"#, "a b"),
        (r#"{{ trimAll "$" "$5.00$" }}"#, "5.00"),
        (
            r#"{{ trimSuffix "-" "hello-" }}|{{ trimPrefix "-" "-hello" }}"#,
            "hello|hello",
        ),
        (r#"{{ upper "héllo" }}|{{ lower "HELLO" }}"#, "HÉLLO|hello"),
        (
            r#"{{ title "hello world-foo bar_baz" }}|{{ untitle "Hello World" }}"#,
            "Hello World-Foo Bar_baz|hello world",
        ),
        (r#"{{ repeat 3 "ab" }}"#, "ababab"),
        (
            r#"{{ substr 0 5 "hello world" }}|{{ substr 6 -1 "hello world" }}|{{ substr -1 3 "hello" }}"#,
            "hello|world|hel",
        ),
        (r#"{{ nospace "h e l\tl o" }}"#, "hello"),
        (
            r#"{{ trunc 5 "hello world" }}|{{ trunc -5 "hello world" }}|{{ trunc 50 "short" }}"#,
            "hello|world|short",
        ),
        (
            r#"{{ abbrev 5 "hello world" }}|{{ abbrev 20 "hello" }}"#,
            "he...|hello",
        ),
        (r#"{{ abbrevboth 5 10 "1234 5678 9123" }}"#, "...5678..."),
        (r#"{{ initials "First Try" }}"#, "FT"),
        (
            r#"{{ randAlphaNum 10 | len }}|{{ randAlpha 4 | len }}|{{ randNumeric 3 | len }}|{{ randAscii 5 | len }}"#,
            "10|4|3|5",
        ),
        (
            r#"{{ regexMatch "^[a-z]+$" (randAlpha 8 | lower) }}|{{ regexMatch "^[0-9]+$" (randNumeric 8) }}"#,
            "true|true",
        ),
        (
            r#"{{ wrap 10 "the quick brown fox jumps" }}"#,
            "the quick\nbrown fox\njumps",
        ),
        (r#"{{ wrapWith 5 "\t" "Hello World" }}"#, "Hello\tWorld"),
        (r#"{{ wrap 5 "a verylongword b" }}"#, "a\nverylongword\nb"),
        (
            r#"{{ contains "cat" "catch" }}|{{ hasPrefix "ca" "cat" }}|{{ hasSuffix "at" "cat" }}"#,
            "true|true|true",
        ),
        (
            r#"{{ quote "a" 1 nil "b\"c" }}|{{ squote "a" 2 }}"#,
            r#""a" "1" "b\"c"|'a' '2'"#,
        ),
        (
            r#"{{ cat "hello" "beautiful" nil 3 }}"#,
            "hello beautiful 3",
        ),
        (
            r#"{{ indent 2 "a\nb" }}|{{ nindent 2 "a" }}"#,
            "  a\n  b|\n  a",
        ),
        (r#"{{ replace " " "-" "a b c" }}"#, "a-b-c"),
        (
            r#"{{ plural "one" "many" 1 }}|{{ plural "one" "many" 2 }}"#,
            "one|many",
        ),
        (
            r#"{{ snakecase "FirstName" }}|{{ snakecase "HTTPServer" }}|{{ kebabcase "FirstName" }}|{{ camelcase "http_server" }}"#,
            "first_name|http_server|first-name|HttpServer",
        ),
        (r#"{{ swapcase "This Is" }}"#, "tHIS iS"),
        (r#"{{ shuffle "abcd" | len }}"#, "4"),
        (
            r#"{{ toString 5 }}|{{ toString 1.5 }}|{{ toString nil }}|{{ toString (list 1 2) }}"#,
            "5|1.5|<nil>|[1 2]",
        ),
        (r#"{{ toStrings (list 1 "a" 2.5 nil) }}"#, "[1 a 2.5]"),
        (
            r#"{{ $s := split "$" "foo$bar$baz" }}{{ $s._0 }} {{ $s._2 }}"#,
            "foo baz",
        ),
        (
            r#"{{ $s := splitn "$" 2 "foo$bar$baz" }}{{ $s._1 }}"#,
            "bar$baz",
        ),
        (
            r#"{{ splitList "," "a,b,,c" }}|{{ splitList "," "" | len }}"#,
            "[a b  c]|1",
        ),
        (
            r#"{{ join "-" (list "a" 1 nil "b") }}|{{ join "," "single" }}"#,
            "a-1-b|single",
        ),
        (
            r#"{{ sortAlpha (list "c" "a" "B" nil) }}|{{ sortAlpha "x" }}"#,
            "[B a c]|[x]",
        ),
        (
            r#"{{ atoi "42" }}|{{ atoi "x" }}|{{ int "7" }}|{{ int 7.9 }}|{{ int64 "0x10" }}|{{ float64 "1.5" }}|{{ toDecimal "0777" }}"#,
            "42|0|7|7|16|1.5|511",
        ),
        (
            r#"{{ seq 3 }}|{{ seq 2 5 }}|{{ seq 0 2 6 }}|{{ seq 3 1 }}"#,
            "1 2 3|2 3 4 5|0 2 4 6|3 2 1",
        ),
        (
            r#"{{ regexFindAll "[0-9]" "a1b2c3" -1 }}|{{ regexFindAll "[0-9]" "a1b2c3" 2 }}|{{ regexFind "[a-z]+" "12abc34" }}"#,
            "[1 2 3]|[1 2]|abc",
        ),
        (
            r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}|{{ regexReplaceAllLiteral "a(x*)b" "-ab-" "${1}" }}"#,
            "-W-xxW-|-${1}-",
        ),
        (
            r#"{{ regexSplit "z+" "pizza" -1 }}|{{ regexQuoteMeta "1.2" }}"#,
            "[pi a]|1\\.2",
        ),
        (r#"{{ hello }}"#, "Hello!"),
    ]);
}

#[test]
fn case_conversions_follow_xstrings() {
    table(&[
        (
            r#"{{ snakecase "FirstName" }} {{ snakecase "HTTPServer" }} {{ snakecase "NoHTTPS" }} {{ snakecase "GO_PATH" }} {{ snakecase "GO PATH" }} {{ snakecase "GO-PATH" }}"#,
            "first_name http_server no_https go_path go_path go_path",
        ),
        (
            r#"{{ snakecase "http2xx" }} {{ snakecase "HTTP20xOK" }} {{ snakecase "Duration2m3s" }} {{ snakecase "Bld4Floor3rd" }}"#,
            "http_2xx http_20x_ok duration_2m3s bld4_floor_3rd",
        ),
        (
            r#"{{ kebabcase "FirstName" }} {{ kebabcase "HTTPServer" }} {{ kebabcase "HTTP20xOK" }}"#,
            "first-name http-server http-20x-ok",
        ),
        (
            r#"{{ camelcase "some_words" }} {{ camelcase "http_server" }} {{ camelcase "_complex__case_" }} {{ camelcase "some words" }} {{ camelcase "GOLANG_IS_GREAT" }}"#,
            "SomeWords HttpServer _Complex_Case_ SomeWords GolangIsGreat",
        ),
    ]);
}

#[test]
fn regex_errors() {
    assert_eq!(r(r#"{{ regexMatch "(" "x" }}"#), "false");
    let e = err(r#"{{ mustRegexMatch "(" "x" }}"#, "");
    assert!(e.starts_with("template: t:1:3: executing \"t\" at <mustRegexMatch \"(\" \"...>: error calling mustRegexMatch: error parsing regexp"), "{e}");
}

#[test]
fn defaults_and_logic() {
    table(&[
        (
            r#"{{ default "d" "" }}|{{ default "d" "v" }}|{{ default "d" 0 }}|{{ default "d" false }}|{{ default "d" (list) }}|{{ default "d" }}"#,
            "d|v|d|d|d|d",
        ),
        (
            r#"{{ empty "" }}|{{ empty 0 }}|{{ empty (dict) }}|{{ empty "x" }}|{{ empty 0.0 }}"#,
            "true|true|true|false|true",
        ),
        (
            r#"{{ coalesce "" 0 "x" "y" }}|{{ coalesce "" }}"#,
            "x|<no value>",
        ),
        (
            r#"{{ all 1 "a" true }}|{{ all 1 "" }}|{{ any 0 "" "x" }}|{{ any 0 "" }}"#,
            "true|false|true|false",
        ),
        (
            r#"{{ ternary "y" "n" true }}|{{ true | ternary "y" "n" }}|{{ ternary "y" "n" false }}"#,
            "y|y|n",
        ),
        (
            r#"{{ typeOf 1 }}|{{ typeOf 1.5 }}|{{ typeOf "s" }}|{{ typeOf (list) }}|{{ typeOf (dict) }}|{{ typeOf nil }}"#,
            "int|float64|string|[]interface {}|map[string]interface {}|<nil>",
        ),
        (
            r#"{{ kindOf 1 }}|{{ kindOf (list) }}|{{ kindOf (dict) }}|{{ kindIs "string" "x" }}|{{ typeIs "int" 1 }}|{{ typeIsLike "int" 1 }}"#,
            "int|slice|map|true|true|true",
        ),
        (
            r#"{{ deepEqual (list 1 (dict "a" 2)) (list 1 (dict "a" 2)) }}|{{ deepEqual (list 1) (list 2) }}"#,
            "true|false",
        ),
    ]);
}

#[test]
fn math() {
    table(&[
        (
            r#"{{ add 1 2 3 }}|{{ add1 4 }}|{{ sub 5 7 }}|{{ mul 2 3 4 }}|{{ div 7 2 }}|{{ mod 7 3 }}"#,
            "6|5|-2|24|3|1",
        ),
        (
            r#"{{ add "2" 1.9 }}|{{ max 1 5 3 }}|{{ min 4 2 8 }}|{{ biggest 1 9 }}"#,
            "3|5|2|9",
        ),
        (
            r#"{{ addf 1.5 2 }}|{{ add1f 1.5 }}|{{ subf 5 1.5 }}|{{ mulf 1.5 2 }}|{{ divf 1 4 }}|{{ addf 0.1 0.2 }}"#,
            "3.5|2.5|3.5|3|0.25|0.3",
        ),
        (
            r#"{{ maxf 1 2.5 0 }}|{{ minf 1 2.5 0.5 }}|{{ floor 1.7 }}|{{ ceil 1.2 }}|{{ round 1.2345 2 }}|{{ round 2.5 0 }}|{{ round -2.5 0 }}"#,
            "2.5|0.5|1|2|1.23|3|-3",
        ),
        (
            r#"{{ until 3 }}|{{ untilStep 0 10 4 }}|{{ untilStep 5 0 -2 }}|{{ until 0 }}"#,
            "[0 1 2]|[0 4 8]|[5 3 1]|[]",
        ),
        (r#"{{ $r := randInt 5 6 }}{{ $r }}"#, "5"),
        (
            r#"{{ typeOf (add 1 1) }}|{{ typeOf (addf 1 1) }}|{{ typeOf (floor 1) }}"#,
            "int|float64|float64",
        ),
    ]);
    assert_eq!(
        err("{{ div 1 0 }}", ""),
        "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: runtime error: integer divide by zero"
    );
}

#[test]
fn lists() {
    table(&[
        (
            r#"{{ list 1 "a" nil }}|{{ tuple 1 2 }}"#,
            "[1 a <nil>]|[1 2]",
        ),
        (
            r#"{{ append (list 1 2) 3 }}|{{ push (list) "a" }}|{{ prepend (list 2) 1 }}"#,
            "[1 2 3]|[a]|[1 2]",
        ),
        (
            r#"{{ first (list 1 2 3) }}|{{ last (list 1 2 3) }}|{{ rest (list 1 2 3) }}|{{ initial (list 1 2 3) }}|{{ first (list) }}"#,
            "1|3|[2 3]|[1 2]|<no value>",
        ),
        (
            r#"{{ reverse (list 1 2 3) }}|{{ uniq (list 1 2 1 "a" "a") }}|{{ without (list 1 2 3 2) 2 }}"#,
            "[3 2 1]|[1 2 a]|[1 3]",
        ),
        (
            r#"{{ has 2 (list 1 2) }}|{{ has "x" (list 1 2) }}|{{ has 1 nil }}"#,
            "true|false|false",
        ),
        (r#"{{ compact (list 1 "" 0 nil "a" false) }}"#, "[1 a]"),
        (
            r#"{{ concat (list 1 2) (list 3) (list) }}|{{ chunk 2 (list 1 2 3 4 5) }}"#,
            "[1 2 3]|[[1 2] [3 4] [5]]",
        ),
        (
            r#"{{ mustFirst (list 7) }}|{{ mustLast (list 7 8) }}|{{ mustRest (list 7 8) }}|{{ mustUniq (list 1 1) }}"#,
            "7|8|[8]|[1]",
        ),
    ]);
    assert_eq!(
        err(r#"{{ append "s" 1 }}"#, ""),
        "template: t:1:3: executing \"t\" at <append \"s\" 1>: error calling append: Cannot push on type string"
    );
    assert_eq!(
        err(r#"{{ first .Values.none }}"#, ""),
        "template: t:1:3: executing \"t\" at <first .Values.none>: error calling first: runtime error: invalid memory address or nil pointer dereference"
    );
}

#[test]
fn dicts() {
    table(&[
        (
            r#"{{ dict "b" 2 "a" 1 }}|{{ dict "k" }}|{{ dict 1 2 }}"#,
            "map[a:1 b:2]|map[k:]|map[1:2]",
        ),
        (
            r#"{{ get (dict "a" 1) "a" }}|{{ get (dict "a" 1) "z" }}|"#,
            "1||",
        ),
        (
            r#"{{ $d := dict }}{{ $_ := set $d "x" 1 }}{{ $d }}|{{ unset $d "x" }}"#,
            "map[x:1]|map[]",
        ),
        (
            r#"{{ hasKey (dict "a" 1) "a" }}|{{ hasKey (dict "a" 1) "b" }}"#,
            "true|false",
        ),
        (
            r#"{{ pluck "a" (dict "a" 1) (dict "b" 2) (dict "a" 3) }}"#,
            "[1 3]",
        ),
        (
            r#"{{ keys (dict "b" 1 "a" 2) | sortAlpha }}|{{ values (dict "b" 1 "a" 2) }}"#,
            "[a b]|[2 1]",
        ),
        (
            r#"{{ pick (dict "a" 1 "b" 2 "c" 3) "a" "c" }}|{{ omit (dict "a" 1 "b" 2) "a" }}"#,
            "map[a:1 c:3]|map[b:2]",
        ),
        (
            r#"{{ dig "a" "b" "def" (dict "a" (dict "b" "found")) }}|{{ dig "a" "x" "def" (dict "a" (dict "b" 1)) }}"#,
            "found|def",
        ),
        (
            r#"{{ deepCopy (dict "a" (list 1 2)) }}|{{ mustDeepCopy (list 1) }}"#,
            "map[a:[1 2]]|[1]",
        ),
    ]);
}

#[test]
fn merge_keeps_or_overwrites_like_mergo() {
    let t = r#"{{ $dst := dict "default" "default" "overwrite" "me" "key" true "nested" (dict "a" 1) }}{{ $src := dict "overwrite" "overwritten" "key" false "new" "n" "nested" (dict "a" 2 "b" 3) }}"#;
    assert_eq!(
        r(&format!("{t}{{{{ merge $dst $src }}}}")),
        "map[default:default key:true nested:map[a:1 b:3] new:n overwrite:me]"
    );
    assert_eq!(
        r(&format!("{t}{{{{ mergeOverwrite $dst $src }}}}")),
        "map[default:default key:false nested:map[a:2 b:3] new:n overwrite:overwritten]"
    );
    // The destination is changed in place; empty values in it are filled.
    assert_eq!(
        r(r#"{{ $d := dict "a" "" }}{{ $_ := merge $d (dict "a" "x" "b" nil) }}{{ $d }}"#),
        "map[a:x]"
    );
    // A null source value: `merge` keeps the destination's, `mergeOverwrite` writes it.
    assert_eq!(
        r(r#"{{ $d := dict "a" "x" }}{{ $_ := merge $d (dict "a" nil) }}{{ $d }}"#),
        "map[a:x]"
    );
    assert_eq!(
        r(r#"{{ $d := dict "a" "x" }}{{ $_ := mergeOverwrite $d (dict "a" nil) }}{{ $d }}"#),
        "map[a:<nil>]"
    );
    assert_eq!(
        r(
            r#"{{ mustMerge (dict) (dict "a" 1) (dict "a" 2) }}|{{ mustMergeOverwrite (dict) (dict "a" 1) (dict "a" 2) }}"#
        ),
        "map[a:1]|map[a:2]"
    );
}

#[test]
fn encodings_and_hashes() {
    table(&[
        (
            r#"{{ b64enc "hello" }}|{{ b64dec "aGVsbG8=" }}|{{ b64dec "!!" }}"#,
            "aGVsbG8=|hello|illegal base64 data at input byte 0",
        ),
        (
            r#"{{ b32enc "hello" }}|{{ b32dec "NBSWY3DP" }}"#,
            "NBSWY3DP|hello",
        ),
        (
            r#"{{ sha1sum "hello" }}"#,
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
        ),
        (
            r#"{{ sha256sum "hello" }}"#,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ),
        (r#"{{ adler32sum "hello" }}"#, "103547413"),
        (r#"{{ sha512sum "" | trunc 16 }}"#, "cf83e1357eefb8bd"),
        (
            r#"{{ regexMatch "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$" uuidv4 }}"#,
            "true",
        ),
    ]);
}

#[test]
fn passwords_and_aes() {
    let h = r(r#"{{ bcrypt "secret" }}"#);
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    let hp = r(r#"{{ htpasswd "user" "secret" }}"#);
    assert!(hp.starts_with("user:$2a$10$"), "{hp}");
    assert_eq!(
        r(r#"{{ encryptAES "key" "hello world" | decryptAES "key" }}"#),
        "hello world"
    );
    assert_eq!(
        r(r#"{{ encryptAES "key" "" }}|{{ decryptAES "key" "" }}"#),
        "|"
    );
    // 16 bytes of IV and 32 of ciphertext (a full block of padding), in base64.
    assert_eq!(
        r(r#"{{ encryptAES "key" "0123456789abcdef" | len }}"#),
        "64"
    );
}

#[test]
fn json() {
    table(&[
        (
            r#"{{ dict "b" (list 1 2.5 "x<y>&") "a" nil | toJson }}"#,
            r#"{"a":null,"b":[1,2.5,"x\u003cy\u003e\u0026"]}"#,
        ),
        (r#"{{ dict "a" "<b>" | toRawJson }}"#, r#"{"a":"<b>"}"#),
        (
            r#"{{ dict "a" (list 1) "b" (dict) | toPrettyJson }}"#,
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}",
        ),
        (r#"{{ (fromJson "{\"a\": {\"b\": 1}}").a.b }}"#, "1"),
        (
            r#"{{ fromJson "[1]" }}"#,
            "map[Error:json: cannot unmarshal array into Go value of type map[string]interface {}]",
        ),
        (r#"{{ fromJsonArray "[1, \"a\"]" }}"#, "[1 a]"),
        (
            r#"{{ mustFromJson "[1]" }}|{{ typeOf (mustFromJson "1") }}"#,
            "[1]|float64",
        ),
        (
            r#"{{ 1000000 | toJson }}|{{ 1e21 | toJson }}|{{ 0.0000001 | toJson }}"#,
            "1000000|1e+21|1e-7",
        ),
        // Go's json.Marshal refuses infinities; toJson and toYaml then print nothing.
        (
            r#"{{ list (mulf 1e300 1e300) | toJson }}|{{ dict "a" (mulf 1e300 1e300) | toYaml }}|"#,
            "||",
        ),
    ]);
}

#[test]
fn paths_and_urls() {
    table(&[
        (
            r#"{{ base "/a/b.txt" }}|{{ dir "/a/b.txt" }}|{{ clean "a//b/../c" }}|{{ ext "x.tar.gz" }}|{{ isAbs "/x" }}"#,
            "b.txt|/a|a/c|.gz|true",
        ),
        (
            r#"{{ $u := urlParse "https://user@host:8080/p/a?q=1#frag" }}{{ $u.scheme }} {{ $u.host }} {{ $u.hostname }} {{ $u.path }} {{ $u.query }} {{ $u.fragment }} {{ $u.userinfo }}"#,
            "https host:8080 host /p/a q=1 frag user",
        ),
        (
            r#"{{ urlJoin (dict "scheme" "http" "host" "h" "path" "/p" "query" "a=b") }}"#,
            "http://h/p?a=b",
        ),
    ]);
}

#[test]
fn semver() {
    table(&[
        (
            r#"{{ semverCompare ">=1.19-0" "v1.20.0" }}|{{ semverCompare "<1.19-0" "1.20.3-gke.100" }}|{{ semverCompare ">=1.21.0" "1.22.0-rc.1" }}"#,
            "true|false|false",
        ),
        (
            r#"{{ semverCompare "^1.2.0" "1.9.9" }}|{{ semverCompare "^1.2.0" "2.0.0" }}|{{ semverCompare "~1.2.3" "1.2.9" }}|{{ semverCompare "~1.2.3" "1.3.0" }}"#,
            "true|false|true|false",
        ),
        (
            r#"{{ semverCompare "1.2.x" "1.2.7" }}|{{ semverCompare ">= 1.2, < 1.4" "1.3.5" }}|{{ semverCompare "<1.0 || >=2.0" "1.5.0" }}|{{ semverCompare "!=1.2.3" "1.2.3" }}"#,
            "true|true|false|false",
        ),
        (
            r#"{{ (semver "v1.2.3-beta.1+b5").Major }}.{{ (semver "1.2.3").Minor }} {{ (semver "1.2.3-beta.1").Prerelease }} {{ semver "v2.0" }}"#,
            "1.2 beta.1 2.0.0",
        ),
    ]);
    assert_eq!(
        err(r#"{{ semverCompare ">1" "not-a-version" }}"#, ""),
        "template: t:1:3: executing \"t\" at <semverCompare \">1\" \"...>: error calling semverCompare: Invalid Semantic Version"
    );
}

#[test]
fn dates() {
    table(&[
        (r#"{{ date "2006-01-02" 0 | len }}"#, "10"),
        (
            r#"{{ dateInZone "2006-01-02T15:04:05Z07:00 Mon Jan" 86400 "UTC" }}"#,
            "1970-01-02T00:00:00Z Fri Jan",
        ),
        (
            r#"{{ dateInZone "02/01/06 3:04PM" 1700000000 "UTC" }}"#,
            "14/11/23 10:13PM",
        ),
        (
            r#"{{ (toDate "2006-01-02" "2024-03-05") | date "Jan 2, 2006" }}"#,
            "Mar 5, 2024",
        ),
        (
            r#"{{ unixEpoch (toDate "2006-01-02T15:04:05Z07:00" "2024-01-01T00:00:00Z") }}"#,
            "1704067200",
        ),
        (
            r#"{{ duration 3725 }}|{{ duration 0 }}|{{ duration 59 }}"#,
            "1h2m5s|0s|59s",
        ),
        (
            r#"{{ durationRound "2h10m" }}|{{ durationRound "400h" }}"#,
            "2h|16d",
        ),
        (
            r#"{{ now | date "2006" | len }}|{{ typeOf now }}"#,
            "4|time.Time",
        ),
        (
            r#"{{ dateInZone "15:04" (dateModify "1.5h" (toDate "2006-01-02T15:04:05Z07:00" "2024-01-01T00:00:00Z")) "UTC" }}"#,
            "01:30",
        ),
    ]);
}

#[test]
fn certificates() {
    let out = r(
        r#"{{ $ca := genCA "my-ca" 365 }}{{ $c := genSignedCert "svc" (list "10.0.0.1") (list "svc.ns.svc") 30 $ca }}{{ $s := genSelfSignedCert "self" nil nil 1 }}{{ $ca.Cert | len | lt 100 }} {{ hasPrefix "-----BEGIN CERTIFICATE-----" $c.Cert }} {{ contains "PRIVATE KEY" $c.Key }} {{ hasPrefix "-----BEGIN CERTIFICATE-----" $s.Cert }}"#,
    );
    assert_eq!(out, "true true true true");
    assert!(r(r#"{{ genPrivateKey "ecdsa" }}"#).contains("PRIVATE KEY"));
    let b = r(
        r#"{{ $ca := genCA "x" 1 }}{{ $c := buildCustomCert ($ca.Cert | b64enc) ($ca.Key | b64enc) }}{{ eq $c.Cert $ca.Cert }}"#,
    );
    assert_eq!(b, "true");
}

#[test]
fn helm_functions() {
    table(&[
        (
            r#"{{ dict "b" (list 1 "x") "a" (dict "c" nil) | toYaml }}"#,
            "a:\n  c: null\nb:\n- 1\n- x",
        ),
        (
            r#"{{ dict "b" (list 1 "x") | toYamlPretty }}"#,
            "b:\n  - 1\n  - x",
        ),
        (r#"{{ (fromYaml "a: {b: [1, two]}").a.b }}"#, "[1 two]"),
        (
            r#"{{ fromYaml "- 1" }}"#,
            "map[Error:error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}]",
        ),
        (
            r#"{{ fromYamlArray "- a\n- b" }}|{{ fromYamlArray "a: 1" }}"#,
            "[a b]|[error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []interface {}]",
        ),
        (
            r#"{{ dict "a" 1 "t" (dict "x" "y") | toToml }}"#,
            "a = 1\n\n[t]\n  x = \"y\"\n",
        ),
        (r#"{{ required "msg" "ok" }}"#, "ok"),
        (
            r#"{{ $t := fromToml "a = 1\nb = 'x'\n[t]\nc = [1.5, true]" }}{{ $t.a }} {{ typeOf $t.a }} {{ $t.b }} {{ $t.t.c }}"#,
            "1 int x [1.5 true]",
        ),
        (
            r#"{{ (fromToml "a = ").Error | hasPrefix "toml: " }}"#,
            "true",
        ),
    ]);
    assert_eq!(
        rv(
            "{{ .Values.a | toYaml | nindent 2 }}",
            "a: {x: 1, w: [a, b]}"
        ),
        "\n  w:\n  - a\n  - b\n  x: 1"
    );
    // YAML 1.1: a `y` key reads as the boolean true, and prints back as a string.
    assert_eq!(
        rv("{{ .Values | toYaml }}", "y: 1\nv: \"y\""),
        "\"true\": 1\nv: \"y\""
    );
}

#[test]
fn functions_helm_removes_or_does_not_support() {
    assert_eq!(
        err("{{ env \"HOME\" }}", ""),
        "template: t:1: function \"env\" not defined"
    );
    assert_eq!(
        err("{{ expandenv \"$HOME\" }}", ""),
        "template: t:1: function \"expandenv\" not defined"
    );
    assert_eq!(
        r(r#"{{ genPrivateKey "rsa" }}|{{ genPrivateKey "" }}|{{ genPrivateKey "x" }}"#),
        "rsa keys are not supported by this renderer|rsa keys are not supported by this renderer|Unknown type x"
    );
}

#[test]
fn derive_password_follows_master_password() {
    // Master Password's published test vector (the algorithm Sprig implements).
    // scrypt here costs ~10 s in an unoptimised build, so the test makes one call.
    assert_eq!(
        r(
            r#"{{ derivePassword 1 "long" "banana colored duckling" "Robert Lee Mitchell" "masterpasswordapp.com" }}"#
        ),
        "Jejr5[RepuSosp"
    );
    assert_eq!(
        r(r#"{{ derivePassword 1 "nope" "p" "u" "s" }}"#),
        "cannot find password template nope"
    );
}

#[test]
fn title_uses_go_separators() {
    // ASCII other than letters, digits and `_` separates words; so does the apostrophe.
    assert_eq!(
        r(r#"{{ title "hello world-foo bar_baz it's" }}"#),
        "Hello World-Foo Bar_baz It'S"
    );
}

#[test]
fn to_yaml_pretty_keeps_floats() {
    // toYamlPretty encodes the Go value directly; toYaml goes through JSON.
    assert_eq!(
        r(r#"{{ dict "f" 1e6 "g" 2.0 | toYamlPretty }}"#),
        "f: 1e+06\ng: 2"
    );
    assert_eq!(
        r(r#"{{ dict "f" 1e6 "g" 2.0 | toYaml }}"#),
        "f: 1000000\ng: 2"
    );
}

#[test]
fn semver_methods() {
    assert_eq!(
        r(
            r#"{{ $v := semver "1.2.3" }}{{ $v.Compare (semver "1.3.0") }} {{ $v.LessThan (semver "1.2.4") }} {{ $v.GreaterThan (semver "1.2.3-rc.1") }} {{ $v.Equal (semver "v1.2.3") }} {{ $v.IncMinor }} {{ $v.IncPatch }} {{ (semver "1.2.3-rc.1").IncPatch }}"#
        ),
        "-1 true true true 1.3.0 1.2.4 1.2.3"
    );
}

#[test]
fn aliases_and_must_variants() {
    table(&[
        (
            r#"{{ trimall "$" "$5$" }}|{{ mustCompact (list 1 "") }}|{{ mustToJson (list 1) }}|{{ mustToRawJson (dict "a" "<") }}"#,
            "5|[1]|[1]|{\"a\":\"<\"}",
        ),
        (
            r#"{{ mustToPrettyJson (list 1) }}|{{ mustToYaml (dict "a" 1) }}"#,
            "[\n  1\n]|a: 1",
        ),
        (
            r#"{{ osBase "/a/b" }}|{{ osClean "a/../b" }}|{{ osDir "/a/b" }}|{{ osExt "f.txt" }}|{{ osIsAbs "a" }}"#,
            "b|b|/a|.txt|false",
        ),
        (
            r#"{{ mustAppend (list 1) 2 }}|{{ mustPush (list) 1 }}|{{ mustPrepend (list 2) 1 }}|{{ mustInitial (list 1 2) }}|{{ mustReverse (list 1 2) }}"#,
            "[1 2]|[1]|[1 2]|[1]|[2 1]",
        ),
        (
            r#"{{ mustWithout (list 1 2) 1 }}|{{ mustHas 1 (list 1) }}|{{ mustSlice (list 1 2 3) 1 2 }}|{{ mustChunk 1 (list 1 2) }}"#,
            "[2]|true|[2]|[[1] [2]]",
        ),
        (
            r#"{{ mustRegexFindAll "a" "aa" -1 }}|{{ mustRegexFind "b+" "abbc" }}|{{ mustRegexReplaceAll "b" "abc" "x" }}|{{ mustRegexReplaceAllLiteral "b" "abc" "$1" }}|{{ mustRegexSplit "," "a,b" -1 }}"#,
            "[a a]|bb|axc|a$1c|[a b]",
        ),
        (
            r#"{{ getHostByName "example.com" }}|{{ randBytes 12 | b64dec | len | lt 0 }}"#,
            "|true",
        ),
        (
            r#"{{ htmlDate 0 | len }}|{{ htmlDateInZone 0 "UTC" }}|{{ date_in_zone "2006" 0 "UTC" }}"#,
            "10|1970-01-01|1970",
        ),
        (
            r#"{{ htmlDateInZone (mustToDate "2006-01-02T15:04:05Z07:00" "2024-02-03T00:00:00Z" | date_modify "24h") "UTC" }}|{{ htmlDateInZone (mustDateModify "-24h" (mustToDate "2006-01-02T15:04:05Z07:00" "2024-02-03T00:00:00Z")) "UTC" }}|{{ must_date_modify "1h" (toDate "2006-01-02T15:04:05Z07:00" "2024-02-03T00:00:00Z") | unixEpoch }}"#,
            "2024-02-04|2024-02-02|1706922000",
        ),
        (r#"{{ ago now | hasSuffix "s" }}"#, "true"),
    ]);
    assert!(
        err(r#"{{ mustToDate "2006-01-02" "nope" }}"#, "")
            .contains("error calling mustToDate: parsing time \"nope\"")
    );
    assert!(err(r#"{{ call 1 }}"#, "").contains("error calling call"));
    let keyed = r(
        r#"{{ $k := genPrivateKey "ecdsa" }}{{ $ca := genCAWithKey "ca" 1 $k }}{{ $c := genSignedCertWithKey "x" nil nil 1 $ca $k }}{{ $s := genSelfSignedCertWithKey "y" nil nil 1 $k }}{{ eq $ca.Key $k }} {{ eq $c.Key $k }} {{ eq $s.Key $k }}"#,
    );
    assert_eq!(keyed, "true true true");
}
