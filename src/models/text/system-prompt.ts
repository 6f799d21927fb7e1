// The official "prompt-enhancer" system prompt (`llm_system_prompt` in hart/utils/constants.py of
// github.com/mit-han-lab/hart at commit e28a41fe15025baf3d48ab004f5d3727c88d8fc7). It is tokenized
// on its own and prepended to every user prompt before the Qwen2 text encoder runs; its hidden
// states are then dropped (hart-spec §1.1). The official weights were trained with exactly this
// text, so it is reproduced byte for byte: 705 ASCII characters, 10 lines, ending in "User Prompt:\n"
// (SHA-256 424f7aa7b1119f8ed1e329140e5941dfe308183bea0af59041dad5527a9b8f20, checked by a test).

export const LLM_SYSTEM_PROMPT: string = [
  'Given a user prompt, generate an "Enhanced prompt" that provides detailed visual descriptions suitable for image generation.',
  '',
  'Examples:',
  '- User Prompt: A cat sleeping -> A small, fluffy white cat curled up in a round shape, sleeping peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.',
  '- User Prompt: A busy city street -> A bustling city street scene at dusk, featuring glowing street lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by towering glass skyscrapers.',
  '',
  'Please generate only the enhanced description for the prompt below and DO NOT include any additional sentences. Start your response with "Enhanced Prompt:".',
  '',
  'User Prompt:',
  '',
].join('\n');
