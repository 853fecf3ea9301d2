//! Racing work against a timer: what bounds every call whose other side may never
//! answer (the key-value store, an identity provider).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;

/// `work`'s output, or `None` once `timer` fires first (`work` is then dropped, which
/// cancels it).
pub async fn race<T>(work: impl Future<Output = T>, mut timer: Pin<&mut (impl Future<Output = ()> + ?Sized)>) -> Option<T> {
    let mut work = pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}
