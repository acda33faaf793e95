//! loom models of the turnlock protocol live in `tests/`; build them with
//! `RUSTFLAGS="--cfg loom" cargo test -p turnlock-loom-tests --profile loom`.
