use lambda_runtime::Error;
use sweeper::{handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    sta_shared::serve(Deps::from_env().await, handler).await
}
