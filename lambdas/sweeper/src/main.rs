use lambda_runtime::Error;
use sweeper::{handler, Deps, SweeperConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let config = SweeperConfig::from_env()?;
    let aws = sta_shared::clients::load_config().await;
    let deps = Deps {
        autoscaling: aws_sdk_autoscaling::Client::new(&aws),
        sfn: aws_sdk_sfn::Client::new(&aws),
        config,
    };
    sta_shared::serve(deps, handler).await
}
