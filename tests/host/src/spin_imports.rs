//! The Spin interfaces the component imports beyond WASI, implemented over [`KvStore`]
//! and the manifest's variables, with Spin 4.0.2's answers.

use std::sync::Arc;

use wasmtime::component::{Accessor, FutureReader, HasSelf, Resource, StreamReader};

use crate::Ctx;
use crate::kv::{KvStore, Op};

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "spin-imports",
        imports: { default: async },
        with: {
            "spin:key-value/key-value.store": crate::spin_imports::OpenStore,
            "wasi:keyvalue/store.bucket": crate::spin_imports::OpenStore,
            "wasi:keyvalue/atomics.cas": crate::spin_imports::RefusedCas,
        },
    });
}

use bindings::spin::key_value::key_value as spin_kv;
use bindings::spin::variables::variables;
use bindings::wasi::keyvalue::{atomics, batch, store as wasi_kv};

/// A store the component has opened; both Spin's and WASI's handles point here.
pub struct OpenStore(Arc<KvStore>);

/// Compare-and-swap always fails on Redis in Spin 4.0.2, so no handle is ever made.
pub enum RefusedCas {}

const REFUSED: &str = "refused by the test host: broken in Spin 4.0.2's Redis backend, so the product must not use it";

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<Ctx>) -> wasmtime::Result<()> {
    bindings::SpinImports::add_to_linker::<_, HasSelf<Ctx>>(linker, |ctx| ctx)
}

impl Ctx {
    /// Spin's rule: a component opens only the labels its manifest lists.
    fn open_store(&self, label: &str) -> Result<Arc<KvStore>, &'static str> {
        if !self.app.component.key_value_stores.iter().any(|allowed| allowed == label) {
            return Err("access-denied");
        }
        self.app.stores.get(label).cloned().ok_or("no-such-store")
    }

    /// The store behind `handle`, counting the operation about to be made on it.
    fn store_for(&self, handle: &Resource<OpenStore>, op: Op) -> Arc<KvStore> {
        // The table only ever holds handles we created; a stale one is a host bug.
        let store = self.table.get(handle).expect("live key-value handle").0.clone();
        store.stats.record(op);
        store
    }
}

fn with_store<T>(accessor: &Accessor<T, HasSelf<Ctx>>, handle: &Resource<OpenStore>, op: Op) -> Arc<KvStore> {
    accessor.with(|mut access| access.get().store_for(handle, op))
}

impl spin_kv::HostStoreWithStore for HasSelf<Ctx> {
    async fn open<T: Send>(accessor: &Accessor<T, Self>, label: String) -> Result<Resource<OpenStore>, spin_kv::Error> {
        accessor.with(|mut access| {
            let ctx = access.get();
            match ctx.open_store(&label) {
                Ok(store) => ctx.table.push(OpenStore(store)).map_err(|_| spin_kv::Error::StoreTableFull),
                Err("access-denied") => Err(spin_kv::Error::AccessDenied),
                Err(_) => Err(spin_kv::Error::NoSuchStore),
            }
        })
    }

    async fn get<T: Send>(accessor: &Accessor<T, Self>, this: Resource<OpenStore>, key: String) -> Result<Option<Vec<u8>>, spin_kv::Error> {
        with_store(accessor, &this, Op::Get).get(&key).await.map_err(spin_kv::Error::Other)
    }

    async fn set<T: Send>(accessor: &Accessor<T, Self>, this: Resource<OpenStore>, key: String, value: Vec<u8>) -> Result<(), spin_kv::Error> {
        with_store(accessor, &this, Op::Set).set(&key, value).await.map_err(spin_kv::Error::Other)
    }

    async fn delete<T: Send>(accessor: &Accessor<T, Self>, this: Resource<OpenStore>, key: String) -> Result<(), spin_kv::Error> {
        with_store(accessor, &this, Op::Delete).delete(&key).await.map_err(spin_kv::Error::Other)
    }

    async fn exists<T: Send>(accessor: &Accessor<T, Self>, this: Resource<OpenStore>, key: String) -> Result<bool, spin_kv::Error> {
        with_store(accessor, &this, Op::Exists).exists(&key).await.map_err(spin_kv::Error::Other)
    }

    async fn get_keys<T: Send>(
        accessor: &Accessor<T, Self>,
        this: Resource<OpenStore>,
    ) -> (StreamReader<String>, FutureReader<Result<(), spin_kv::Error>>) {
        let (keys, result) = match with_store(accessor, &this, Op::GetKeys).keys().await {
            Ok(keys) => (keys, Ok(())),
            Err(error) => (Vec::new(), Err(spin_kv::Error::Other(error))),
        };
        accessor.with(|mut access| {
            let stream = StreamReader::new(&mut access, keys).expect("stream for get-keys");
            let future = FutureReader::new(&mut access, async move { Ok::<_, wasmtime::Error>(result) }).expect("future for get-keys");
            (stream, future)
        })
    }
}

impl spin_kv::HostStore for Ctx {
    async fn drop(&mut self, handle: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl spin_kv::Host for Ctx {}

impl variables::HostWithStore for HasSelf<Ctx> {
    async fn get<T: Send>(accessor: &Accessor<T, Self>, name: String) -> Result<String, variables::Error> {
        let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return Err(variables::Error::InvalidName(name));
        }
        accessor.with(|mut access| {
            access.get().app.component.variables.get(&name).cloned().ok_or(variables::Error::Undefined(name))
        })
    }
}

impl variables::Host for Ctx {}

fn wasi_error(error: String) -> wasi_kv::Error {
    wasi_kv::Error::Other(error)
}

impl wasi_kv::Host for Ctx {
    async fn open(&mut self, label: String) -> Result<Resource<OpenStore>, wasi_kv::Error> {
        match self.open_store(&label) {
            Ok(store) => self.table.push(OpenStore(store)).map_err(|e| wasi_error(e.to_string())),
            Err("access-denied") => Err(wasi_kv::Error::AccessDenied),
            Err(_) => Err(wasi_kv::Error::NoSuchStore),
        }
    }
}

impl wasi_kv::HostBucket for Ctx {
    async fn get(&mut self, this: Resource<OpenStore>, key: String) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        self.store_for(&this, Op::Get).get(&key).await.map_err(wasi_error)
    }

    async fn set(&mut self, this: Resource<OpenStore>, key: String, value: Vec<u8>) -> Result<(), wasi_kv::Error> {
        self.store_for(&this, Op::Set).set(&key, value).await.map_err(wasi_error)
    }

    async fn delete(&mut self, this: Resource<OpenStore>, key: String) -> Result<(), wasi_kv::Error> {
        self.store_for(&this, Op::Delete).delete(&key).await.map_err(wasi_error)
    }

    async fn exists(&mut self, this: Resource<OpenStore>, key: String) -> Result<bool, wasi_kv::Error> {
        self.store_for(&this, Op::Exists).exists(&key).await.map_err(wasi_error)
    }

    async fn list_keys(&mut self, this: Resource<OpenStore>, _cursor: Option<String>) -> Result<wasi_kv::KeyResponse, wasi_kv::Error> {
        let keys = self.store_for(&this, Op::GetKeys).keys().await.map_err(wasi_error)?;
        Ok(wasi_kv::KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, handle: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl atomics::Host for Ctx {
    async fn increment(&mut self, bucket: Resource<OpenStore>, key: String, delta: i64) -> Result<i64, wasi_kv::Error> {
        self.store_for(&bucket, Op::Increment).increment(&key, delta).await.map_err(wasi_error)
    }

    async fn swap(&mut self, cas: Resource<RefusedCas>, _value: Vec<u8>) -> Result<(), atomics::CasError> {
        self.table.delete(cas).ok();
        Err(atomics::CasError::StoreError(wasi_error(REFUSED.into())))
    }
}

impl atomics::HostCas for Ctx {
    async fn new(&mut self, _bucket: Resource<OpenStore>, _key: String) -> Result<Resource<RefusedCas>, wasi_kv::Error> {
        Err(wasi_error(REFUSED.into()))
    }

    async fn current(&mut self, _cas: Resource<RefusedCas>) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        Err(wasi_error(REFUSED.into()))
    }

    async fn drop(&mut self, handle: Resource<RefusedCas>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl batch::Host for Ctx {
    async fn get_many(&mut self, _bucket: Resource<OpenStore>, _keys: Vec<String>) -> Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error> {
        Err(wasi_error(REFUSED.into()))
    }

    async fn set_many(&mut self, bucket: Resource<OpenStore>, entries: Vec<(String, Vec<u8>)>) -> Result<(), wasi_kv::Error> {
        for (key, value) in entries {
            self.store_for(&bucket, Op::Set).set(&key, value).await.map_err(wasi_error)?;
        }
        Ok(())
    }

    async fn delete_many(&mut self, bucket: Resource<OpenStore>, keys: Vec<String>) -> Result<(), wasi_kv::Error> {
        for key in keys {
            self.store_for(&bucket, Op::Delete).delete(&key).await.map_err(wasi_error)?;
        }
        Ok(())
    }
}
