//! Fuzz target `user_agent`: see `deskprov_fuzz::user_agent`. Under `cargo afl build` (`cfg(fuzzing)`) this
//! is AFL++'s persistent loop; in a plain build it runs the target once on standard input, to
//! replay one file: `cargo run --bin user_agent < crash`.

#[cfg(fuzzing)]
fn main() {
    afl::fuzz!(|data: &[u8]| deskprov_fuzz::user_agent::run(data));
}

#[cfg(not(fuzzing))]
fn main() -> std::io::Result<()> {
    use std::io::Read as _;
    let mut data = Vec::new();
    std::io::stdin().read_to_end(&mut data)?;
    deskprov_fuzz::user_agent::run(&data);
    Ok(())
}
