"""WhatsApp Web page structure the driver relies on — the ONE place selectors live
(invariant 6). When WhatsApp changes its page, update this module and bump VERSION.

Never import these into the simulator or from it: the simulator implements the same page
independently, so a test against it checks the driver's own understanding of the page."""

VERSION = "2026.11.3"

# Loading / login
QR_CONTAINER = "div[data-ref]"
QR_CANVAS = 'canvas[aria-label="Scan this QR code to link a device!"]'
QR_RELOAD_BUTTON = "div[data-ref] button"
LOGGED_IN = "#pane-side"
SIDE = "#side"
SEARCH_ICON = '[data-icon="search"]'

# A chat
MAIN = "#main"
MAIN_HEADER_TITLE = '#main header span[dir="auto"][title]'
COMPOSE_BOX = '#main footer div[contenteditable="true"][data-tab="10"]'
SEND_BUTTON = 'button[aria-label="Send"]'
SEND_ICON = 'span[data-icon="send"]'
MESSAGE_OUT = "#main div.message-out"
MESSAGE_IN = "#main div.message-in"
MESSAGE_TEXT = "span.selectable-text"
MESSAGE_META = "div.copyable-text[data-pre-plain-text]"
MESSAGE_ID_ATTR = "data-id"

# Attaching a file: the composer's Attach button opens a menu whose items hold hidden file
# inputs — photos and videos (sent with a thumbnail) and documents (any file). A chosen file
# opens a preview with a caption box and a Send button of its own.
ATTACH_BUTTON = '#main footer button[title="Attach"], #main footer div[role="button"][title="Attach"]'
ATTACH_MEDIA_INPUT = 'input[type="file"][accept^="image/"]'
ATTACH_DOCUMENT_INPUT = 'input[type="file"][accept="*"]'
MEDIA_CAPTION_BOX = (
    'div[contenteditable="true"][aria-label="Add a caption"], '
    'div[contenteditable="true"][aria-placeholder="Add a caption"]'
)
MEDIA_SEND_BUTTON = 'div[role="button"][aria-label="Send"]'

# Tick icons on outgoing bubbles, in order.
ICON_PENDING = "msg-time"
ICON_SENT = "msg-check"
ICON_DELIVERED = "msg-dblcheck"
READ_ARIA_LABEL = " Read "
TICK_ICONS = f'span[data-icon="{ICON_PENDING}"], span[data-icon="{ICON_SENT}"], span[data-icon="{ICON_DELIVERED}"]'

# Chat list. A row shows the chat's title and its last message; when that message is outgoing,
# with its ticks (icons of their own, not the bubble's).
CHAT_LIST_ROW = '#pane-side div[role="listitem"], #pane-side div[role="row"]'
CHAT_ROW_TITLE = '[data-testid="cell-frame-title"] span[title], span[dir="auto"][title]'
CHAT_ROW_LAST_MESSAGE = '[data-testid="last-msg-status"]'
CHAT_ROW_LAST_TEXT = "span[title]"
LIST_ICON_PENDING = "status-time"
LIST_ICON_SENT = "status-check"
LIST_ICON_DELIVERED = "status-dblcheck"
LIST_TICK_ICONS = (
    f'span[data-icon="{LIST_ICON_PENDING}"], span[data-icon="{LIST_ICON_SENT}"], '
    f'span[data-icon="{LIST_ICON_DELIVERED}"]'
)
UNREAD_BADGE = 'span[aria-label*="unread message"]'

# A click on one of WhatsApp's own chat links inside the page opens that chat in place (the
# app routes it; no page load). The same link loaded as a page is SEND_URL.
CHAT_LINK = "https://api.whatsapp.com/send?phone={phone}"
SEND_URL = "/send?phone={phone}"

# Dialogs and account problems
DIALOG = 'div[role="dialog"]'
INVALID_NUMBER_TEXT = "Phone number shared via url is invalid."
DIALOG_OK = 'div[role="dialog"] button, div[role="dialog"] div[role="button"]'
BANNED_TEXT = "This account is not allowed to use WhatsApp"
RATE_LIMIT_TEXT = "sending messages too quickly"

# Where the page keeps the linked account's own number ("<digits>:<device>@c.us").
OWN_NUMBER_STORAGE_KEYS = ("last-wid-md", "last-wid")
