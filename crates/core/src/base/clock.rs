//! The broker's one notion of time: whole seconds since the Unix epoch, read once per
//! request and passed down, so that every expiry decision is testable with any clock.

pub type UnixTime = u64;

pub fn unix_now() -> UnixTime {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
