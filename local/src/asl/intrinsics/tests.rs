use super::*;
use serde_json::json;

fn eval(expr: &str) -> Result<Value, StateError> {
    evaluate(
        expr,
        &json!({"a": "x", "n": 2, "obj": {"k": [1]}, "s": "{\"k\":1}"}),
        &Scope::new(json!({"Execution": {"Name": "e1"}})),
    )
}

#[test]
fn the_functions_compute_what_step_functions_does() {
    assert_eq!(
        eval("States.Format('{} and {} in {}', $.a, $.n, $$.Execution.Name)").ok(),
        Some(json!("x and 2 in e1"))
    );
    assert_eq!(eval("States.StringToJson($.s)").ok(), Some(json!({"k": 1})));
    assert_eq!(eval("States.JsonToString($.obj)").ok(), Some(json!("{\"k\":[1]}")));
    assert_eq!(eval("States.Array($.a, 1, 'b')").ok(), Some(json!(["x", 1, "b"])));
    assert_eq!(eval("States.MathAdd($.n, -5)").ok(), Some(json!(-3)));
    assert_eq!(eval("States.ArrayLength(States.Array(1, 2, 3))").ok(), Some(json!(3)));
    assert_eq!(eval("States.Format('it\\'s {}', $.a)").ok(), Some(json!("it's x")));
    let id = eval("States.UUID()")
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    assert_eq!(id.len(), 36);
}

#[test]
fn the_array_functions() {
    let ok = |e: &str| eval(e).unwrap_or_else(|err| panic!("{e}: {err}"));
    assert_eq!(
        ok("States.ArrayPartition(States.Array(1, 2, 3, 4, 5), 2)"),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(ok("States.ArrayPartition(States.Array(), 2)"), json!([]));
    assert_eq!(
        ok("States.ArrayContains(States.Array(1, 'a', $.obj), $.obj)"),
        json!(true)
    );
    assert_eq!(ok("States.ArrayContains(States.Array(1, 'a'), 2)"), json!(false));
    assert_eq!(ok("States.ArrayRange(1, 9, 2)"), json!([1, 3, 5, 7, 9]));
    assert_eq!(ok("States.ArrayRange(5, 0, -2)"), json!([5, 3, 1]));
    assert_eq!(ok("States.ArrayRange(5, 1, 2)"), json!([]));
    assert_eq!(ok("States.ArrayRange(1, 1000, 1)").as_array().map(Vec::len), Some(1000));
    assert_eq!(ok("States.ArrayGetItem(States.Array('a', 'b'), 1)"), json!("b"));
    assert_eq!(
        ok("States.ArrayUnique(States.Array(1, 2, 1, 'x', 'x', 2))"),
        json!([1, 2, "x"])
    );
}

#[test]
fn the_encoding_hashing_json_math_and_string_functions() {
    let ok = |e: &str| eval(e).unwrap_or_else(|err| panic!("{e}: {err}"));
    assert_eq!(
        ok("States.Base64Encode('Data to encode')"),
        json!("RGF0YSB0byBlbmNvZGU=")
    );
    assert_eq!(
        ok("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"),
        json!("Data to encode")
    );
    assert_eq!(
        ok("States.Hash('input data', 'SHA-1')"),
        json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
    );
    assert_eq!(ok("States.Hash('', 'MD5')"), json!("d41d8cd98f00b204e9800998ecf8427e"));
    assert_eq!(
        ok("States.Hash('', 'SHA-256')"),
        json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(ok("States.Hash('x', 'SHA-384')").as_str().map(str::len), Some(96));
    assert_eq!(ok("States.Hash('x', 'SHA-512')").as_str().map(str::len), Some(128));
    assert_eq!(
        ok("States.JsonMerge(States.StringToJson('{\"a\":1,\"b\":{\"c\":1}}'), States.StringToJson('{\"b\":{\"d\":2}}'), false)"),
        json!({"a": 1, "b": {"d": 2}})
    );
    let seeded = ok("States.MathRandom(1, 1000, 42)");
    assert_eq!(
        ok("States.MathRandom(1, 1000, 42)"),
        seeded,
        "a seed repeats the number"
    );
    for _ in 0..50 {
        let n = ok("States.MathRandom(3, 5)").as_i64().unwrap_or(-1);
        assert!((3..5).contains(&n), "{n}");
    }
    assert_eq!(ok("States.MathAdd(111, -1)"), json!(110));
    assert_eq!(
        ok("States.StringSplit('This.is+a,test=string', '.+,=')"),
        json!(["This", "is", "a", "test", "string"])
    );
    assert_eq!(ok("States.StringSplit('1,2,3', ',')"), json!(["1", "2", "3"]));
}

#[test]
fn misuse_is_an_intrinsic_failure() {
    let long = "x".repeat(10_001);
    let input = json!({"a": "x", "obj": {"k": [1]}, "s": "{\"k\": 1}", "n": 2, "long": long});
    for (bad, says) in [
        ("States.Format('{} {}', $.a)", "more {} than arguments"),
        ("States.MathAdd('a', 1)", "two numbers"),
        ("States.MathAdd(9223372036854775807, 1)", "overflows"),
        ("States.Nope()", "unknown intrinsic function"),
        ("States.StringToJson($.a)", "StringToJson"),
        ("States.ArrayPartition(States.Array(1), 0)", "positive integer"),
        ("States.ArrayPartition($.a, 1)", "takes an array"),
        ("States.ArrayContains(States.Array(1))", "takes 2 argument(s)"),
        ("States.ArrayRange(1, 2, 0)", "the step not 0"),
        ("States.ArrayRange(1, 1001, 1)", "more than 1000 items"),
        ("States.ArrayRange(1.5, 3, 1)", "three integers"),
        ("States.ArrayGetItem(States.Array(1), 1)", "out of bounds"),
        ("States.ArrayGetItem(States.Array(1), -1)", "non-negative integer"),
        ("States.ArrayUnique('x')", "takes an array"),
        ("States.Base64Encode($.long)", "at most 10000 characters"),
        ("States.Base64Encode($.n)", "takes a string"),
        ("States.Base64Decode('%%%')", "not Base64"),
        ("States.Hash('x', 'SHA-3')", "unsupported algorithm 'SHA-3'"),
        ("States.Hash($.long, 'MD5')", "at most 10000 characters"),
        ("States.JsonMerge($.obj, $.obj, true)", "does not deep merge"),
        ("States.JsonMerge($.obj, $.a, false)", "two JSON objects"),
        ("States.MathRandom(5, 5)", "an end above it"),
        ("States.MathRandom(1)", "2 or 3 arguments"),
        ("States.StringSplit($.n, ',')", "takes a string"),
        ("States.UUID(1)", "takes 0 argument(s)"),
        (
            "States.ArrayLength(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(1)))))))))))",
            "more than 10 intrinsic functions nested",
        ),
    ] {
        let err = evaluate(bad, &input, &Scope::default()).expect_err(bad);
        assert_eq!(err.error, "States.IntrinsicFailure", "{bad}");
        assert!(err.cause.contains(says), "{bad}: {}", err.cause);
    }
    // Ten nested calls are allowed.
    assert!(eval("States.ArrayLength(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(1))))))))))").is_ok());
}

#[test]
fn numbers_and_types_are_taken_as_step_functions_takes_them() {
    let ok = |e: &str| eval(e).unwrap_or_else(|err| panic!("{e}: {err}"));
    // The math functions round their arguments as Java does.
    assert_eq!(ok("States.MathAdd(1.49, 1.5)"), json!(3));
    assert_eq!(ok("States.MathAdd(-1.5, 0)"), json!(-1));
    assert_eq!(ok("States.MathAdd(2.5, -0.4)"), json!(3));
    for _ in 0..20 {
        let n = ok("States.MathRandom(1.5, 3.4)").as_i64().unwrap_or(-1);
        assert_eq!(n, 2, "from 2 to 3, the end left out");
    }
    assert_eq!(
        ok("States.MathRandom(1, 1000, 42.2)"),
        ok("States.MathRandom(1, 1000, 42)")
    );
    // States.Format writes objects and arrays as Java prints maps and lists.
    assert_eq!(
        ok("States.Format('{}', States.StringToJson('{\"Arg1\":1,\"Arg2\":[]}'))"),
        json!("{Arg1=1, Arg2=[]}")
    );
    assert_eq!(
        ok("States.Format('{} / {}', $.obj, States.Array('a', 1, true, 2.5))"),
        json!("{k=[1]} / [a, 1, true, 2.5]")
    );
    // StringToJson: an empty string is null, "-0" is 0.
    assert_eq!(ok("States.StringToJson('')"), Value::Null);
    assert_eq!(ok("States.StringToJson('-0')"), json!(0));
}
