// Bundled with esbuild into an IIFE: exposes HeyGen's published LiveAvatar web SDK to the test page, unmodified.
import * as LiveAvatar from "@heygen/liveavatar-web-sdk";

window.LiveAvatarSDK = LiveAvatar;
