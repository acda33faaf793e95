//! Transfers between bank accounts with `KeyedLocks::lock_many`.
//!
//! The balances live in a store that only reads and writes single rows,
//! with an await in between (think: a database). A transfer locks both of
//! its accounts for its whole read-modify-write, so no other transfer sees
//! it half done. `lock_many` takes the keys in a fixed order, so transfers
//! in opposite directions never deadlock, and a transfer from an account to
//! itself (a key named twice) simply locks it once.
//!
//! Run it with `cargo run --example accounts --features keyed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use turnlock::{KeyedLocks, ManyGuard};

const ACCOUNTS: [&str; 4] = ["alice", "bob", "carol", "dave"];

struct Bank {
    /// One lock per account, created on demand.
    accounts: KeyedLocks<&'static str>,
    /// The "database": single-row reads and writes.
    rows: Mutex<BTreeMap<&'static str, u64>>,
}

impl Bank {
    async fn read(&self, account: &str) -> u64 {
        smol::future::yield_now().await; // a round trip to the store
        self.rows.lock().unwrap()[account]
    }

    async fn write(&self, account: &'static str, balance: u64) {
        smol::future::yield_now().await;
        self.rows.lock().unwrap().insert(account, balance);
    }

    /// Moves `amount` from one account to another if the money is there.
    async fn transfer(&self, from: &'static str, to: &'static str, amount: u64) -> bool {
        let both = self.accounts.lock_many([from, to]).await;
        let held: Vec<_> = ManyGuard::keys(&both).collect();
        let balance = self.read(from).await;
        if balance < amount {
            println!(
                "{from:>5} -> {to:<5} {amount:>3}: refused, {from} has {balance} (held {held:?})"
            );
            return false;
        }
        self.write(from, balance - amount).await;
        let balance = self.read(to).await;
        self.write(to, balance + amount).await;
        println!("{from:>5} -> {to:<5} {amount:>3}: done (held {held:?})");
        true
    }

    /// Reads every balance with every account locked: a consistent snapshot.
    async fn audit(&self) -> u64 {
        let _all = self.accounts.lock_many(ACCOUNTS).await;
        let mut total = 0;
        for account in ACCOUNTS {
            total += self.read(account).await;
        }
        total
    }
}

fn main() {
    let bank = Arc::new(Bank {
        accounts: KeyedLocks::new(),
        rows: Mutex::new(ACCOUNTS.iter().map(|&a| (a, 100)).collect()),
    });
    let before = smol::block_on(bank.audit());
    println!("total before: {before}");

    // Eight tasks on smol's executor, each walking the accounts in its own
    // direction, some of them transferring to themselves.
    smol::block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let bank = bank.clone();
                smol::spawn(async move {
                    let mut done = 0;
                    for round in 0..3 {
                        let i = (task + round) % ACCOUNTS.len();
                        let j = if task % 2 == 0 {
                            i + 1
                        } else {
                            i + ACCOUNTS.len() - 1
                        };
                        let to = if task == 7 {
                            ACCOUNTS[i]
                        } else {
                            ACCOUNTS[j % ACCOUNTS.len()]
                        };
                        let amount = 10 + 15 * ((task + round) as u64 % 5);
                        done += u32::from(bank.transfer(ACCOUNTS[i], to, amount).await);
                    }
                    done
                })
            })
            .collect();
        let mut done = 0;
        for task in tasks {
            done += task.await;
        }
        println!("{done} of 24 transfers went through");
    });

    let after = smol::block_on(bank.audit());
    println!("total after: {after}");
    assert_eq!(before, after, "money was created or lost");
    println!("balances: {:?}", bank.rows.lock().unwrap());
    println!("keys still locked: {}", bank.accounts.len());
    assert!(bank.accounts.is_empty());
}
