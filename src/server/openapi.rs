//! The OpenAPI document, generated from the handlers and their types (utoipa, as TEI), served
//! at `GET /api-doc/openapi.json`, with a Swagger UI page at `/docs`.

use utoipa::OpenApi;

use super::errors::{ErrorResponse, ErrorType};
use super::types::{
    ClassifierModel, DecideRequest, DecodeRequest, DecodeResponse, ExplainRequest, ExplainResponse,
    Info, InputIds, ModelType, OpenAICompatErrorResponse, PredictInput, PredictRequest,
    PredictResponse, Prediction, SimpleToken, TokenizeInput, TokenizeRequest, TokenizeResponse,
    TruncationDirection, WordAttribution,
};
use super::{explain_route, info, predict, tokens};

/// The server's API: TEI's routes for a classifier, and the crate's `/explain` and `/decide`.
#[derive(OpenApi)]
#[openapi(
    paths(
        info::info,
        info::health,
        info::metrics,
        predict::predict,
        predict::decide,
        explain_route::explain,
        tokens::tokenize,
        tokens::decode,
    ),
    components(schemas(
        PredictInput,
        PredictRequest,
        PredictResponse,
        Prediction,
        DecideRequest,
        ExplainRequest,
        ExplainResponse,
        WordAttribution,
        Info,
        ModelType,
        ClassifierModel,
        TokenizeInput,
        TokenizeRequest,
        TokenizeResponse,
        SimpleToken,
        InputIds,
        DecodeRequest,
        DecodeResponse,
        TruncationDirection,
        ErrorResponse,
        ErrorType,
        OpenAICompatErrorResponse,
    )),
    tags(
        (name = "Text Embeddings Inference", description = "Hugging Face Text Embeddings Inference's API, for a classifier"),
        (name = "Emotion classifier", description = "The crate's own routes: explanations and decisions"),
    ),
    info(
        title = "emotion-classifier",
        description = "Emotion scores for texts, over text-embeddings-inference 1.9's API",
        license(name = "Apache-2.0", url = "https://www.apache.org/licenses/LICENSE-2.0")
    )
)]
pub(crate) struct ApiDoc;

/// The document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
