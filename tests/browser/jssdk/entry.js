// Bundled with esbuild into an IIFE: exposes HeyGen's published v1 SDK to the test page, unmodified.
import { Configuration, StreamingAvatarApi } from "@heygen/streaming-avatar";

window.HeyGenSDK = { Configuration, StreamingAvatarApi };
