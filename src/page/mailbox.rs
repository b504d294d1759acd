//! A channel to a task on this page's single thread: senders queue messages,
//! the task awaits them one at a time. About forty lines instead of
//! `futures-channel`, whose atomics and wakers the wasm does not need.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

struct Shared<T> {
    queue: VecDeque<T>,
    waker: Option<Waker>,
}

pub struct Sender<T>(Rc<RefCell<Shared<T>>>);

pub struct Receiver<T>(Rc<RefCell<Shared<T>>>);

pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(RefCell::new(Shared {
        queue: VecDeque::new(),
        waker: None,
    }));
    (Sender(Rc::clone(&shared)), Receiver(shared))
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(Rc::clone(&self.0))
    }
}

impl<T> Sender<T> {
    pub fn send(&self, message: T) {
        // Never borrowed across a call out: the borrow always succeeds.
        if let Ok(mut s) = self.0.try_borrow_mut() {
            s.queue.push_back(message);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }
}

impl<T> Receiver<T> {
    pub async fn recv(&mut self) -> T {
        poll_fn(|cx| match self.0.try_borrow_mut() {
            Ok(mut s) => match s.queue.pop_front() {
                Some(m) => Poll::Ready(m),
                None => {
                    s.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            },
            Err(_) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }
}
