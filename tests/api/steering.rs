//! The designer's extensions, end to end on the real server: steering the queue (priority,
//! pause, resume — over HTTP and from the CLI, another process, on the same ledger) and the
//! library's search, tags and favourites.

use serde_json::{json, Value};

use crate::support::{assert_timeline, png, Server};

async fn job(server: &Server, id: &str) -> Value {
    let r = server.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    r.body
}

fn ids(list: &Value) -> Vec<String> {
    list["jobs"].as_array().unwrap().iter().map(|j| j["public_id"].as_str().unwrap().to_string()).collect()
}

/// Long-polls a job's events until one has this stage name.
async fn until_stage(server: &Server, id: &str, stage: &str) {
    let mut since = 0;
    for _ in 0..30 {
        let r = server.get(&format!("/v1/jobs/{id}/events?since={since}&wait=5")).await;
        for e in r.body["events"].as_array().unwrap() {
            since = e["seq"].as_i64().unwrap();
            if e["stage"] == stage {
                return;
            }
        }
    }
    panic!("job {id} never reached {stage}");
}

#[tokio::test]
async fn the_queue_is_steered_by_priority_pause_and_resume_and_the_scheduler_honours_it() {
    // One job at a time, each stage slowed so the first one is still running while we steer.
    let server = Server::start_with(&["--concurrency", "1"], &[("FIGUR_FAILPOINTS", "stage=sleep(900)")]).await;
    let before = server.balance().await;
    let mut jobs = Vec::new();
    for seed in 0..4 {
        let r = server.dispatch_backdrop(json!({ "seed": seed })).await;
        assert_eq!(r.status.as_u16(), 202, "{:?}", r.body);
        jobs.push(r.body["job_id"].as_str().unwrap().to_string());
    }
    let [a, b, c, d] = <[String; 4]>::try_from(jobs).unwrap();
    until_stage(&server, &a, "started").await; // the first job holds the one permit

    let r = server.post(&format!("/v1/jobs/{d}/priority"), json!({ "priority": 10 })).await;
    assert_eq!((r.status.as_u16(), r.body["priority"].as_i64()), (200, Some(10)), "{:?}", r.body);
    let r = server.post(&format!("/v1/jobs/{c}/pause"), json!({})).await;
    assert_eq!(
        (r.status.as_u16(), r.body["paused"].as_bool(), r.body["status"].as_str()),
        (200, Some(true), Some("NOT_STARTED"))
    );
    let queue = server.get("/v1/queue").await.body;
    assert_eq!(
        ids(&queue),
        [a.as_str(), d.as_str(), b.as_str(), c.as_str()],
        "running, then by priority and age, the held job in its place"
    );
    let printed = server.cli(&["jobs", "queue"]);
    let lines: Vec<&str> = printed.lines().collect();
    assert!(lines[0].starts_with(&a) && lines[0].contains("running"), "{printed}");
    assert!(lines[3].starts_with(&c) && lines[3].contains("paused"), "{printed}");

    // The running job, paused from another process: it stops at a check point and waits, held.
    let paused: Value = serde_json::from_str(&server.cli(&["jobs", "pause", &a])).unwrap();
    assert_eq!((paused["paused"].as_bool(), paused["status"].as_str()), (Some(true), Some("IN_PROGRESS")));
    until_stage(&server, &a, "paused").await;

    // The scheduler takes d (priority) before b, and leaves the held jobs.
    server.wait_terminal(&d).await;
    server.wait_terminal(&b).await;
    let started = |j: &Value| j["started_at"].as_str().unwrap().to_string();
    assert!(started(&job(&server, &d).await) <= started(&job(&server, &b).await), "d ran before b");
    let queue = server.get("/v1/queue").await.body;
    assert_eq!(ids(&queue), [a.as_str(), c.as_str()], "only the held jobs are left");
    assert!(queue["jobs"].as_array().unwrap().iter().all(|j| j["paused"] == true && j["status"] == "NOT_STARTED"));

    let resumed: Value = serde_json::from_str(&server.cli(&["jobs", "resume", &c])).unwrap();
    assert_eq!(resumed["paused"], false);
    let r = server.post(&format!("/v1/jobs/{a}/resume"), json!({})).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    for id in [&a, &b, &c, &d] {
        let events = server.wait_terminal(id).await;
        assert_timeline(&events);
        assert_eq!(events.last().unwrap()["event_type"], "succeeded", "{events:?}");
    }
    let a_events = server.wait_terminal(&a).await;
    let starts = a_events.iter().filter(|e| e["stage"] == "started").count();
    assert_eq!(starts, 2, "the paused job started again from the beginning");
    let cost = job(&server, &a).await["credits_cost"].as_i64().unwrap();
    assert_eq!(server.balance().await, before - 4 * cost, "each job charged once");

    // Bad input names the field; a finished job cannot be steered; an unknown one is not found.
    for (body, loc) in [
        (json!({ "priority": 101 }), json!(["body", "priority"])),
        (json!({ "priority": "high" }), json!(["body", "priority"])),
        (json!({ "priority": 1, "urgent": true }), json!(["body", "urgent"])),
        (json!({}), json!(["body", "priority"])),
    ] {
        let r = server.post(&format!("/v1/jobs/{b}/priority"), body.clone()).await;
        assert_eq!((r.status.as_u16(), r.loc()), (422, loc), "{body}: {:?}", r.body);
    }
    let r = server.post(&format!("/v1/jobs/{b}/pause"), json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "JOB_FINISHED"));
    let r = server.post("/v1/jobs/01J0000000000000000000000Z/resume", json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "JOB_NOT_FOUND"));
}

#[tokio::test]
async fn the_library_is_tagged_searched_and_narrowed_to_favourites() {
    let server = Server::start().await;
    let dress = server.upload_key("red_dress.png", png(40, 60)).await;
    let anna = server.upload_key("model_anna.png", png(41, 60)).await;
    let patch = |key: &str, body: Value| {
        server.send(server.http.patch(server.url(&format!("/v1/uploads/{key}"))).bearer_auth(&server.key).json(&body))
    };
    let r = patch(&dress, json!({ "tags": ["SS27", " hero  shot "] })).await;
    assert_eq!(
        (r.status.as_u16(), r.body["tags"].clone(), r.body["favourite"].clone()),
        (200, json!(["hero shot", "ss27"]), json!(false))
    );
    let r = patch(&anna, json!({ "favourite": true, "tags": ["ss27"] })).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);

    let keys = |body: &Value| -> Vec<String> {
        body["uploads"].as_array().unwrap().iter().map(|u| u["upload_key"].as_str().unwrap().to_string()).collect()
    };
    let found = server.get("/v1/uploads?q=dress").await.body;
    assert_eq!((keys(&found), found["total"].as_u64()), (vec![dress.clone()], Some(1)));
    assert_eq!(keys(&server.get("/v1/uploads?q=HERO").await.body), [dress.as_str()], "tags, any case");
    assert_eq!(keys(&server.get("/v1/uploads?tag=ss27").await.body), [anna.clone(), dress.clone()]);
    assert_eq!(keys(&server.get("/v1/uploads?favourite=true").await.body), [anna.as_str()]);
    assert_eq!(keys(&server.get("/v1/uploads?favourite=false&tag=ss27").await.body), [dress.as_str()]);
    let page = server.get("/v1/uploads?limit=1&offset=1").await.body;
    assert_eq!((page["count"].as_u64(), page["total"].as_u64()), (Some(1), Some(2)));
    assert_eq!(
        server.get("/v1/tags").await.body,
        json!([{ "tag": "ss27", "count": 2 }, { "tag": "hero shot", "count": 1 }])
    );

    let r = patch(&dress, json!({ "tags": ["fine", ""] })).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "tags", 1])));
    let r = patch(&dress, json!({ "favourite": "yes" })).await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["body", "favourite"])));
    let r = patch("uploads/01J0000000000000000000000Z/none.png", json!({ "favourite": true })).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "RESOURCE_NOT_FOUND"));
    let r = server.get("/v1/uploads?favourite=maybe").await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["query", "favourite"])));
}

#[tokio::test]
async fn a_job_is_varied_with_new_seeds_each_a_charged_job_of_its_own() {
    let server = Server::start().await;
    let r = server.dispatch_backdrop(json!({ "seed": 7 })).await;
    let original = r.body["job_id"].as_str().unwrap().to_string();
    server.wait_terminal(&original).await;
    let before = server.balance().await;
    let r = server.post(&format!("/v1/jobs/{original}/vary"), json!({ "count": 3 })).await;
    assert_eq!(r.status.as_u16(), 202, "{:?}", r.body);
    let jobs: Vec<String> =
        r.body["jobs"].as_array().unwrap().iter().map(|j| j["job_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(jobs.len(), 3);
    let mut seeds = Vec::new();
    for id in &jobs {
        assert_eq!(server.wait_terminal(id).await.last().unwrap()["event_type"], "succeeded");
        let detail = job(&server, id).await;
        let mut asked = detail["request"].clone();
        seeds.push(asked["seed"].as_u64().unwrap());
        asked.as_object_mut().unwrap().remove("seed");
        let mut first = job(&server, &original).await["request"].clone();
        first.as_object_mut().unwrap().remove("seed");
        assert_eq!(asked, first, "the same request but for the seed");
    }
    seeds.sort();
    seeds.dedup();
    assert_eq!(seeds.len(), 3, "a new seed each");
    assert!(!seeds.contains(&7));
    let cost = job(&server, &original).await["credits_cost"].as_i64().unwrap();
    assert_eq!(server.balance().await, before - 3 * cost);
    // The three backdrops differ: new seeds, new pictures.
    let mut bytes = Vec::new();
    for id in &jobs {
        let url = job(&server, id).await["result"][0]["image_url"].as_str().unwrap().to_string();
        bytes.push(reqwest::get(url).await.unwrap().bytes().await.unwrap());
    }
    assert!(bytes[0] != bytes[1] && bytes[1] != bytes[2]);

    let printed = server.cli(&["jobs", "vary", &original, "--count", "1"]);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    for (body, loc) in
        [(json!({ "count": 0 }), json!(["body", "count"])), (json!({ "count": 9 }), json!(["body", "count"]))]
    {
        let r = server.post(&format!("/v1/jobs/{original}/vary"), body).await;
        assert_eq!((r.status.as_u16(), r.loc()), (422, loc));
    }
    let r = server.post("/v1/jobs/01J0000000000000000000000Z/vary", json!({ "count": 1 })).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "JOB_NOT_FOUND"));
}
