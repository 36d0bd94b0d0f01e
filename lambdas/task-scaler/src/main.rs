use lambda_runtime::Error;
use task_scaler::{handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    sta_shared::serve(Ok(Deps::from_env().await), handler).await
}
