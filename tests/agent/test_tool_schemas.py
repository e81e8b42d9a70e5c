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
                "description": "A Hugging Face model's metadata: size, format, licence, gating.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "Hugging Face repo, owner/name.",
                            "type": "string",
                        }
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "estimate_vram": {
                "description": "A model's peak GPU memory when serving it.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "Hugging Face repo, owner/name.",
                            "type": "string",
                        },
                        "dtype": {
                            "default": "bf16",
                            "description": "Serving precision; auto: the checkpoint's.",
                            "enum": ["auto", "fp32", "bf16", "fp16", "fp8", "int8", "int4"],
                            "type": "string",
                        },
                        "context_tokens": {
                            "default": 4096,
                            "description": "Prompt + output tokens per sequence.",
                            "type": "integer",
                        },
                        "batch": {
                            "default": 1,
                            "description": "Sequences at once.",
                            "type": "integer",
                        },
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "choose_gpu": {
                "description": "The cheapest RunPod serverless GPU that holds the model, and its price.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "Hugging Face repo, owner/name.",
                            "type": "string",
                        },
                        "dtype": {
                            "default": "bf16",
                            "description": "Serving precision; auto: the checkpoint's.",
                            "enum": ["auto", "fp32", "bf16", "fp16", "fp8", "int8", "int4"],
                            "type": "string",
                        },
                        "context_tokens": {
                            "default": 4096,
                            "description": "Prompt + output tokens per sequence.",
                            "type": "integer",
                        },
                        "batch": {
                            "default": 1,
                            "description": "Sequences at once.",
                            "type": "integer",
                        },
                        "workers_min": {
                            "default": 0,
                            "description": "Always-on workers, billed 24/7; 0 scales to zero.",
                            "type": "integer",
                        },
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "compare_targets": {
                "description": "Price a model on each deploy target: the GPU that holds it there and its $/h.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "Hugging Face repo, owner/name.",
                            "type": "string",
                        }
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "inspect_workflow": {
                "description": "Read a ComfyUI workflow: its models, custom nodes, inputs and VRAM.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "workflow": {
                            "description": "The workflow id from the user's message.",
                            "type": "string",
                        },
                        "answers": {
                            "anyOf": [
                                {"additionalProperties": {"type": "string"}, "type": "object"},
                                {"type": "null"},
                            ],
                            "default": None,
                            "description": "The user's answers to ask_user: filename -> owner/repo/path, package -> version.",
                        },
                    },
                    "required": ["workflow"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "check_credential": {
                "description": "Whether the user has a valid key for a provider (never the key).",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "provider": {
                            "description": "Whose key.",
                            "enum": [
                                "openrouter",
                                "huggingface",
                                "runpod",
                                "github",
                                "vercel",
                                "netlify",
                                "gcp",
                                "aws",
                            ],
                            "type": "string",
                        },
                        "recheck": {
                            "default": False,
                            "description": "Ask the provider now, not the last check.",
                            "type": "boolean",
                        },
                    },
                    "required": ["provider"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "request_api_key": {
                "description": "Ask the user for a provider key in a secure field you never see.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "provider": {
                            "description": "Whose key.",
                            "enum": [
                                "openrouter",
                                "huggingface",
                                "runpod",
                                "github",
                                "vercel",
                                "netlify",
                                "gcp",
                                "aws",
                            ],
                            "type": "string",
                        },
                        "reason": {
                            "description": "One sentence for the user: what it is for.",
                            "type": "string",
                        },
                    },
                    "required": ["provider", "reason"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "build_dockerfile": {
                "description": "Write the RunPod worker files for a model; creates nothing at RunPod.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "Hugging Face repo, owner/name.",
                            "type": "string",
                        },
                        "dtype": {
                            "default": "bf16",
                            "description": "bf16, fp16 or fp32.",
                            "type": "string",
                        },
                    },
                    "required": ["repo_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "get_deployment_status": {
                "description": "A deployment's state, workers and cost so far.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "Endpoint or deployment id.",
                            "type": "string",
                        }
                    },
                    "required": ["endpoint_id"],
                    "type": "object",
                },
                "needs_approval": False,
            },
            "create_runpod_endpoint": {
                "description": "Deploy a model to a RunPod serverless endpoint; waits until it answers a test job.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "repo_id": {
                            "description": "Hugging Face repo, owner/name.",
                            "type": "string",
                        },
                        "pool": {
                            "description": "GPU pool id from choose_gpu, or offer id from compare_targets (or auto).",
                            "type": "string",
                        },
                        "gpu_count": {
                            "default": 1,
                            "description": "GPUs per worker, from choose_gpu.",
                            "type": "integer",
                        },
                        "workers_min": {
                            "default": 0,
                            "description": "Always-on workers, billed 24/7; 0 scales to zero.",
                            "type": "integer",
                        },
                        "workers_max": {
                            "default": 1,
                            "description": "Most workers at once.",
                            "type": "integer",
                        },
                        "target": {
                            "default": "runpod",
                            "description": "Where: RunPod, Hugging Face, Google Cloud Run or Amazon SageMaker.",
                            "enum": ["runpod", "huggingface", "cloudrun", "sagemaker"],
                            "type": "string",
                        },
                        "region": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "default": None,
                            "description": "The target's region; omit for the cheapest.",
                        },
                        "workflow_id": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "default": None,
                            "description": "A ComfyUI workflow's id.",
                        },
                    },
                    "required": ["repo_id", "pool"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "push_to_github": {
                "description": "Push the endpoint's generated web app to GitHub, as one commit.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "Endpoint the app calls.",
                            "type": "string",
                        },
                        "repo_name": {
                            "description": "Lowercase letters, digits, single hyphens.",
                            "type": "string",
                        },
                        "private": {
                            "default": True,
                            "description": "Private repo (recommended).",
                            "type": "boolean",
                        },
                    },
                    "required": ["endpoint_id", "repo_name"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "deploy_vercel": {
                "description": "Deploy the endpoint's generated web app to Vercel, then test it.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "Endpoint the app calls.",
                            "type": "string",
                        },
                        "project_name": {
                            "description": "Live at <project_name>.vercel.app.",
                            "type": "string",
                        },
                    },
                    "required": ["endpoint_id", "project_name"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "deploy_netlify": {
                "description": "Deploy the endpoint's generated web app to Netlify, then test it.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "Endpoint the app calls.",
                            "type": "string",
                        },
                        "site_name": {
                            "description": "Live at <site_name>.netlify.app.",
                            "type": "string",
                        },
                    },
                    "required": ["endpoint_id", "site_name"],
                    "type": "object",
                },
                "needs_approval": True,
            },
            "teardown": {
                "description": "Delete a deployment (stops its billing) and its web app; keeps its GitHub repo.",
                "parameters": {
                    "additionalProperties": False,
                    "properties": {
                        "endpoint_id": {
                            "description": "Endpoint or deployment id.",
                            "type": "string",
                        },
                        "remove_image": {
                            "default": False,
                            "description": "Also delete the worker image.",
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
