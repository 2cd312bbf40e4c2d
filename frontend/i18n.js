// UI strings in English and Chinese. The language follows the browser unless the user switched it.
(function () {
  const STRINGS = {
    en: {
      newChat: 'New chat', exportChats: 'Export', importChats: 'Import', managePresets: 'Presets',
      demoWeights: 'demo weights (random)', preset: 'Preset', settings: 'Settings',
      placeholder: 'Message… (Enter to send, Shift+Enter for a new line)',
      regenerate: 'Regenerate', stop: 'Stop', send: 'Send', temperature: 'Temperature',
      maxTokens: 'Max tokens', seed: 'Seed', resetDefaults: 'Reset to defaults', close: 'Close',
      settingsHint: "For this chat only. Empty fields use the preset's value.", chatSettings: 'Chat settings',
      random: 'random', modelDefaultPrompt: "the model's default",
      limit_temperature: 'Temperature must be between 0 and 2.', limit_topP: 'Top-p must be more than 0 and at most 1.',
      limit_topK: 'Top-k must be a whole number, 0 or more.', limit_maxTokens: 'Max tokens must be a whole number from 1 to {max}.',
      limit_seed: 'The seed must be a whole number.', limit_systemPrompt: 'The system prompt can be at most 8000 characters.',
      presetSaved: 'Saved “{name}”.',
      nameEn: 'Name (English)', nameZh: 'Name (Chinese)', description: 'Description',
      systemPrompt: 'System prompt', greeting: 'Greeting', examples: 'Example prompts (one per line)',
      save: 'Save', newPreset: 'New', export: 'Export', import: 'Import', edit: 'Edit', delete: 'Delete',
      copy: 'Copy', copied: 'Copied', copyFailed: 'Copy failed', builtin: 'built-in', untitled: 'New chat',
      loadingModel: 'Loading model', loadFailed: 'The model failed to load:', connecting: 'Connecting…',
      reconnecting: 'Connection lost, reconnecting…', tokens: 'tokens', ttft: 'TTFT',
      stopped: 'stopped', truncated: 'length limit', timedOut: 'cut off: server time limit', confirmDelete: 'Delete this conversation?',
      confirmDeletePreset: 'Delete this preset?', adminToken: 'Admin token (needed to change presets)',
      adminTokenNeeded: 'Changing presets needs the admin token: enter it below and save again.',
      apiKeyPrompt: 'This server\'s chat needs an API key. Enter yours:', apiKeyRejected: 'The API key was not accepted.', importFailed: 'Import failed:', resend: 'Save & resend',
      cancel: 'Cancel', contextFull: 'context full', eta: 'left',
      stage_DOWNLOAD_MODEL: 'Downloading the model', stage_RESOLVE_MODEL: 'Resolving the model directory', stage_VALIDATE_FILES: 'Validating config, tokenizer and weights',
      stage_LOAD_WEIGHTS: 'Loading weights into the engine', stage_WARM_UP: 'Warm-up generation',
      stage_SELF_CHECK: 'Self-check', stage_READY: 'Ready',
      interrupted: 'Interrupted: the connection to the server was lost.', failedReply: 'The reply failed.', retry: 'Retry',
      waitingForConnection: 'Waiting for connection…', modelReloading: 'The server is reloading the model; your conversation is kept and messages wait for it:',
      tooLongForContext: 'This message does not fit: the conversation would be {tokens} tokens, and the context holds {size}. Shorten it or start a new chat.',
      timeoutNote: 'The reply was cut off at the server\'s time limit.',
      err_model_not_ready: 'The model is not ready yet.', err_busy: 'The server is busy. Try again in a moment.',
      err_context_overflow: 'The conversation no longer fits the model\'s context. Shorten the message or start a new chat.',
      err_invalid_request: 'The server refused the request as invalid.', err_generation_in_progress: 'A reply is still being generated.',
      err_message_too_large: 'The message is too large to send.', err_engine_failure: 'The model failed while answering. Try again.',
      err_unknown: 'The server reported an error.',
      messageLabel: 'Message', openMenu: 'Open the menu', closeMenu: 'Close the menu', conversations: 'Conversations',
      history: 'History', pdf_not_a_pdf: '“{name}” is not a readable PDF.', pdf_pdf_encrypted: '“{name}” is password-protected.', pdf_too_large: '“{name}” is too large (at most 20 MiB).', pdf_no_text: '“{name}” has no text to read (a scan?).', thisChat: 'This chat:', presetFieldRejected: 'The value of {field} is not accepted.', presetNotFound: 'That preset no longer exists.', presetConflict: 'Built-in presets cannot be changed, and newer preset files are read-only.', attach: 'Attach', removeFile: 'Remove file', notATextFile: '“{name}” is not a text file, so it was not attached.', fileTooLarge: '“{name}” is too large to attach (at most 200,000 characters).', demoShort: 'demo', searchChats: 'Search chats', groupPinned: 'Pinned', groupToday: 'Today', groupYesterday: 'Yesterday', groupPrevious7: 'Previous 7 days', groupOlder: 'Older', noMatches: 'No chats match.', pin: 'Pin', unpin: 'Unpin', rename: 'Rename', roleUser: 'You', roleAssistant: 'Assistant', exportMarkdown: 'This chat as Markdown', exportJson: 'This chat as JSON', previousVersion: 'Previous version', nextVersion: 'Next version', imageInReply: 'image from the reply', contextMeter: 'Context used', darkMode: 'Dark mode', deleteConversation: 'Delete conversation',
    },
    zh: {
      newChat: '新对话', exportChats: '导出', importChats: '导入', managePresets: '角色预设',
      demoWeights: '演示权重（随机）', preset: '预设', settings: '设置',
      placeholder: '输入消息…（Enter 发送，Shift+Enter 换行）',
      regenerate: '重新生成', stop: '停止', send: '发送', temperature: '温度',
      maxTokens: '最大 token 数', seed: '随机种子', resetDefaults: '恢复默认', close: '关闭',
      settingsHint: '仅对本对话生效。留空则使用预设的值。', chatSettings: '对话设置',
      random: '随机', modelDefaultPrompt: '模型默认',
      limit_temperature: '温度必须在 0 到 2 之间。', limit_topP: 'Top-p 必须大于 0 且不超过 1。',
      limit_topK: 'Top-k 必须是不小于 0 的整数。', limit_maxTokens: '最大 token 数必须是 1 到 {max} 之间的整数。',
      limit_seed: '随机种子必须是整数。', limit_systemPrompt: '系统提示词最多 8000 个字符。',
      presetSaved: '已保存“{name}”。',
      nameEn: '名称（英文）', nameZh: '名称（中文）', description: '描述',
      systemPrompt: '系统提示词', greeting: '开场白', examples: '示例提问（每行一个）',
      save: '保存', newPreset: '新建', export: '导出', import: '导入', edit: '编辑', delete: '删除',
      copy: '复制', copied: '已复制', copyFailed: '复制失败', builtin: '内置', untitled: '新对话',
      loadingModel: '正在加载模型', loadFailed: '模型加载失败：', connecting: '正在连接…',
      reconnecting: '连接断开，正在重连…', tokens: 'tokens', ttft: '首字延迟',
      stopped: '已停止', truncated: '达到长度上限', timedOut: '已中断：超出服务器时限', confirmDelete: '删除这个对话？',
      confirmDeletePreset: '删除这个预设？', adminToken: '管理员令牌（修改预设需要）',
      adminTokenNeeded: '修改预设需要管理员令牌：请在下方输入后再次保存。',
      apiKeyPrompt: '此服务器的聊天需要 API 密钥，请输入：', apiKeyRejected: 'API 密钥无效。', importFailed: '导入失败：', resend: '保存并重新发送',
      cancel: '取消', contextFull: '上下文已满', eta: '剩余',
      stage_DOWNLOAD_MODEL: '下载模型', stage_RESOLVE_MODEL: '定位模型目录', stage_VALIDATE_FILES: '校验配置、分词器和权重',
      stage_LOAD_WEIGHTS: '将权重加载到推理引擎', stage_WARM_UP: '预热生成',
      stage_SELF_CHECK: '自检', stage_READY: '就绪',
      interrupted: '已中断：与服务器的连接断开。', failedReply: '回复失败。', retry: '重试',
      waitingForConnection: '等待连接…', modelReloading: '服务器正在重新加载模型，对话已保留，消息将在加载完成后发送：',
      tooLongForContext: '这条消息放不下：对话将有 {tokens} 个 token，而上下文只能容纳 {size} 个。请缩短消息或开始新对话。',
      timeoutNote: '回复因超出服务器时限而中断。',
      err_model_not_ready: '模型尚未就绪。', err_busy: '服务器繁忙，请稍后再试。',
      err_context_overflow: '对话已超出模型的上下文长度。请缩短消息或开始新对话。',
      err_invalid_request: '服务器认为请求无效。', err_generation_in_progress: '上一条回复仍在生成中。',
      err_message_too_large: '消息过大，无法发送。', err_engine_failure: '模型回答时出错，请重试。',
      err_unknown: '服务器报告了一个错误。',
      messageLabel: '消息', openMenu: '打开菜单', closeMenu: '关闭菜单', conversations: '对话列表',
      history: '历史记录', pdf_not_a_pdf: '“{name}”不是可读取的 PDF。', pdf_pdf_encrypted: '“{name}”受密码保护。', pdf_too_large: '“{name}”太大（最多 20 MiB）。', pdf_no_text: '“{name}”中没有可读取的文字（可能是扫描件）。', thisChat: '本对话：', presetFieldRejected: '“{field}”的值不被接受。', presetNotFound: '该预设已不存在。', presetConflict: '内置预设不能修改；较新版本的预设文件为只读。', attach: '附件', removeFile: '移除文件', notATextFile: '“{name}”不是文本文件，未添加。', fileTooLarge: '“{name}”太大，无法添加（最多 200,000 个字符）。', demoShort: '演示', searchChats: '搜索对话', groupPinned: '已置顶', groupToday: '今天', groupYesterday: '昨天', groupPrevious7: '过去 7 天', groupOlder: '更早', noMatches: '没有匹配的对话。', pin: '置顶', unpin: '取消置顶', rename: '重命名', roleUser: '你', roleAssistant: '助手', exportMarkdown: '导出本对话（Markdown）', exportJson: '导出本对话（JSON）', previousVersion: '上一个版本', nextVersion: '下一个版本', imageInReply: '回复中的图片', contextMeter: '已用上下文', darkMode: '深色模式', deleteConversation: '删除对话',
    },
  };

  const saved = localStorage.getItem('qwenchat.lang');
  let lang = saved || ((navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en');

  window.I18N = {
    get lang() { return lang; },
    has(key) { return key in STRINGS.en; },
    t(key) { return (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key; },
    /** Picks the UI language's side of a {en, zh} text from the server. */
    pick(text) { return text ? (text[lang] || text.en || text.zh || '') : ''; },
    set(next) { lang = next; localStorage.setItem('qwenchat.lang', next); this.apply(); },
    apply(root) {
      document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
      (root || document).querySelectorAll('[data-i18n]').forEach(el => { el.textContent = this.t(el.dataset.i18n); });
      (root || document).querySelectorAll('[data-i18n-title]').forEach(el => { el.title = this.t(el.dataset.i18nTitle); });
      (root || document).querySelectorAll('[data-i18n-aria]').forEach(el => { el.setAttribute('aria-label', this.t(el.dataset.i18nAria)); });
      (root || document).querySelectorAll('[data-i18n-placeholder]').forEach(el => { el.placeholder = this.t(el.dataset.i18nPlaceholder); });
      const sw = document.getElementById('lang-switch');
      if (sw) sw.textContent = lang === 'zh' ? 'English' : '中文';
    },
  };
})();
