"""Every tool schema the model sees, pinned, and the rules every tool follows."""

from __future__ import annotations

from typing import Any

from inline_snapshot import snapshot

from agent.toolset import APPROVAL_TOOLS, QUESTION_TOOLS, build_toolset


def schemas() -> dict[str, Any]:
    return {
        name: {
            "description": tool.tool_def.description,
            "parameters": tool.tool_def.parameters_json_schema,
            "needs_approval": tool.requires_approval,
        }
        for name, tool in build_toolset().tools.items()
    }


def test_every_tool_schema_is_pinned() -> None:
    assert schemas() == snapshot(
        {
            "inspect_model": {
                "description": "Read a Hugging Face model's metadata (no weights): size, format, licence, gating.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "The Hugging Face repo, as owner/name (e.g. Qwen/Qwen2.5-7B-Instruct).",
                            "type": "string",
                        }
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "estimate_vram": {
                "description": "Estimate a model's peak GPU memory when serving it.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "The Hugging Face repo, as owner/name.",
                            "type": "string",
                        },
                        "dtype": {
                            "default": "bf16",
                            "description": "Weight precision to serve in; auto keeps the checkpoint's own.",
                            "enum": ["auto", "fp32", "bf16", "fp16", "fp8", "int8", "int4"],
                            "type": "string",
                        },
                        "context_tokens": {
                            "default": 4096,
                            "description": "Prompt plus generated tokens per sequence.",
                            "type": "integer",
                        },
                        "batch": {
                            "default": 1,
                            "description": "Sequences generated at once.",
                            "type": "integer",
                        },
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "choose_gpu": {
                "description": "Choose the cheapest RunPod serverless GPU that holds the model, with its price.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "The Hugging Face repo, as owner/name.",
                            "type": "string",
                        },
                        "dtype": {
                            "default": "bf16",
                            "description": "Weight precision to serve in; auto keeps the checkpoint's own.",
                            "enum": ["auto", "fp32", "bf16", "fp16", "fp8", "int8", "int4"],
                            "type": "string",
                        },
                        "context_tokens": {
                            "default": 4096,
                            "description": "Prompt plus generated tokens per sequence.",
                            "type": "integer",
                        },
                        "batch": {
                            "default": 1,
                            "description": "Sequences generated at once.",
                            "type": "integer",
                        },
                        "workers_min": {
                            "default": 0,
                            "description": "Always-on workers (billed around the clock); 0 scales to zero.",
                            "type": "integer",
                        },
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "check_credential": {
                "description": "Say whether the user has a key for a provider and whether it is valid (never the key).",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "provider": {
                            "description": "The provider whose key to check.",
                            "enum": [
                                "openrouter",
                                "huggingface",
                                "runpod",
                                "github",
                                "vercel",
                                "netlify",
                            ],
                            "type": "string",
                        },
                        "recheck": {
                            "default": False,
                            "description": "Ask the provider now (free, rate-limited) instead of using the last check.",
                            "type": "boolean",
                        },
                    },
                    "required": ["provider"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "request_api_key": {
                "description": "Ask the user for a provider key in a secure field you never see; it is stored encrypted.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "provider": {
                            "description": "The provider whose key is needed.",
                            "enum": [
                                "openrouter",
                                "huggingface",
                                "runpod",
                                "github",
                                "vercel",
                                "netlify",
                            ],
                            "type": "string",
                        },
                        "reason": {
                            "description": "One sentence for the user: what the key is needed for now.",
                            "type": "string",
                        },
                    },
                    "required": ["provider", "reason"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "build_dockerfile": {
                "description": """\
Write the RunPod worker that serves a model: Dockerfile, handler and pinned
requirements, or (for LLMs that vLLM serves) the env of RunPod's prebuilt vLLM image.
Read-only: writes files on this server, creates nothing at RunPod.\
""",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "The Hugging Face repo, as owner/name.",
                            "type": "string",
                        },
                        "dtype": {
                            "default": "bf16",
                            "description": "Weight precision to serve in (bf16, fp16, fp32).",
                            "type": "string",
                        },
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "get_deployment_status": {
                "description": "Report a deployment: its state, its workers right now, and what it costs (read-only).",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "The endpoint id (or deployment id) that create_runpod_endpoint returned.",
                            "type": "string",
                        }
                    },
                    "required": ["endpoint_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "create_runpod_endpoint": {
                "description": """\
Deploy a model to a RunPod serverless endpoint and wait until it answers a test job.
Costs money while workers run: needs approval. Builds and pushes a worker image when
the model needs one; reports progress as it goes.\
""",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "The Hugging Face repo, as owner/name.",
                            "type": "string",
                        },
                        "pool": {
                            "description": "The GPU pool id that choose_gpu chose (e.g. AMPERE_24).",
                            "type": "string",
                        },
                        "gpu_count": {
                            "default": 1,
                            "description": "GPUs per worker (choose_gpu's count).",
                            "type": "integer",
                        },
                        "workers_min": {
                            "default": 0,
                            "description": "Always-on workers (billed around the clock; 0 scales to zero).",
                            "type": "integer",
                        },
                        "workers_max": {
                            "default": 1,
                            "description": "Most workers at once.",
                            "type": "integer",
                        },
                    },
                    "required": ["repo_id", "pool"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "push_to_github": {
                "description": """\
Push the generated web app for an endpoint to GitHub as one commit. Needs approval.

Creates the repository under the user's account, or reuses it; pushing the same app
again makes no new commit. A scan blocks the push if any file holds a secret.\
""",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "The RunPod endpoint the app calls (from create_runpod_endpoint).",
                            "type": "string",
                        },
                        "repo_name": {
                            "description": "Repository name: lowercase letters, digits and single hyphens.",
                            "type": "string",
                        },
                        "private": {
                            "default": True,
                            "description": "Keep the repository private (recommended).",
                            "type": "boolean",
                        },
                    },
                    "required": ["endpoint_id", "repo_name"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "deploy_vercel": {
                "description": """\
Deploy the generated web app for an endpoint to Vercel, then test it. Needs approval.

Sets RUNPOD_API_KEY as an encrypted Vercel variable (never in a file), uploads the app,
waits until it is live and calls its api/infer once; the result says pass or fail.\
""",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "The RunPod endpoint the app calls (from create_runpod_endpoint).",
                            "type": "string",
                        },
                        "project_name": {
                            "description": "Vercel project name; the app goes live at <project_name>.vercel.app.",
                            "type": "string",
                        },
                    },
                    "required": ["endpoint_id", "project_name"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "deploy_netlify": {
                "description": """\
Deploy the generated web app for an endpoint to Netlify, then test it. Needs approval.

Sets RUNPOD_API_KEY as a secret Netlify variable (never in a file), uploads the app and
its function, waits until it is live and calls its api/infer once.\
""",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "The RunPod endpoint the app calls (from create_runpod_endpoint).",
                            "type": "string",
                        },
                        "site_name": {
                            "description": "Netlify site name; the app goes live at <site_name>.netlify.app.",
                            "type": "string",
                        },
                    },
                    "required": ["endpoint_id", "site_name"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "teardown": {
                "description": """\
Delete a deployment's RunPod endpoint, template and registry credentials, which
stops its billing, and its Vercel project or Netlify site; its GitHub repo is kept.
Deletes: needs approval.\
""",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "The endpoint id (or deployment id) to tear down.",
                            "type": "string",
                        },
                        "remove_image": {
                            "default": False,
                            "description": "Also delete the worker image from the registry.",
                            "type": "boolean",
                        },
                    },
                    "required": ["endpoint_id"],
                    "type": "object",
                },
                "needs_approval": True,
            },
        }
    )


def test_every_parameter_is_described_and_side_effects_need_approval() -> None:
    tools = build_toolset().tools
    for name, tool in tools.items():
        properties = tool.tool_def.parameters_json_schema["properties"]
        assert all(p.get("description") for p in properties.values()), name
        assert tool.requires_approval == (name in APPROVAL_TOOLS), name
    assert APPROVAL_TOOLS == {
        "create_runpod_endpoint", "push_to_github", "deploy_vercel", "deploy_netlify", "teardown",
    }  # fmt: skip
    assert QUESTION_TOOLS <= tools.keys()
