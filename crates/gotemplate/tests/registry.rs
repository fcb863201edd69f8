//! Every function Helm registers (Go's builtins, Sprig v3 without `env`/`expandenv`,
//! Helm's own) exists.

#[test]
fn every_helm_function_is_registered() {
    let names = "hello ago date date_in_zone date_modify dateInZone dateModify duration durationRound htmlDate \
        htmlDateInZone must_date_modify mustDateModify mustToDate now toDate unixEpoch abbrev abbrevboth trunc trim upper \
        lower title untitle substr repeat trimall trimAll trimSuffix trimPrefix nospace initials randAlphaNum randAlpha \
        randAscii randNumeric swapcase shuffle snakecase camelcase kebabcase wrap wrapWith contains hasPrefix hasSuffix \
        quote squote cat indent nindent replace plural sha1sum sha256sum sha512sum adler32sum toString atoi int64 int \
        float64 seq toDecimal split splitList splitn toStrings until untilStep add1 add sub div mod mul randInt add1f addf \
        subf divf mulf biggest max min maxf minf ceil floor round join sortAlpha default empty coalesce all any compact \
        mustCompact fromJson toJson toPrettyJson toRawJson mustFromJson mustToJson mustToPrettyJson mustToRawJson ternary \
        deepCopy mustDeepCopy typeOf typeIs typeIsLike kindOf kindIs deepEqual getHostByName base dir clean ext isAbs \
        osBase osClean osDir osExt osIsAbs b64enc b64dec b32enc b32dec tuple list dict get set unset hasKey pluck keys \
        pick omit merge mergeOverwrite mustMerge mustMergeOverwrite values append push mustAppend mustPush prepend \
        mustPrepend first mustFirst rest mustRest last mustLast initial mustInitial reverse mustReverse uniq mustUniq \
        without mustWithout has mustHas slice mustSlice concat dig chunk mustChunk bcrypt htpasswd genPrivateKey \
        derivePassword buildCustomCert genCA genCAWithKey genSelfSignedCert genSelfSignedCertWithKey genSignedCert \
        genSignedCertWithKey encryptAES decryptAES randBytes uuidv4 semver semverCompare fail regexMatch mustRegexMatch \
        regexFindAll mustRegexFindAll regexFind mustRegexFind regexReplaceAll mustRegexReplaceAll regexReplaceAllLiteral \
        mustRegexReplaceAllLiteral regexSplit mustRegexSplit regexQuoteMeta urlParse urlJoin toToml fromToml toYaml \
        toYamlPretty fromYaml fromYamlArray fromJsonArray include tpl required lookup and or not len index print printf \
        println html js urlquery eq ne lt le gt ge call";
    let e = gotemplate::Engine::helm();
    let missing: Vec<&str> = names
        .split_whitespace()
        .filter(|n| !e.has_func(n))
        .collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    for removed in ["env", "expandenv"] {
        assert!(!e.has_func(removed), "{removed} must not exist, as in Helm");
    }
}
